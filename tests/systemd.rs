//! The systemd unit shipped in docs/ (issue 16): `systemd-analyze verify` finds nothing to say
//! about it, and its hardening keeps systemd's exposure estimate low. `ExecStart` names the
//! installed path, which verify requires to exist, so a copy names the binary under test instead.

mod common;

use std::process::Command;

use common::*;

const UNIT: &str = include_str!("../docs/artifact-review.service");

fn installed_copy() -> Result<(tempfile::TempDir, std::path::PathBuf), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let unit = dir.path().join("artifact-review.service");
    assert!(UNIT.contains("ExecStart=/usr/local/bin/artifact-review serve"));
    std::fs::write(&unit, UNIT.replace("/usr/local/bin/artifact-review", BIN))?;
    Ok((dir, unit))
}

#[test]
fn the_systemd_unit_passes_systemd_analyze_verify_without_a_warning() -> TestResult {
    let (_dir, unit) = installed_copy()?;
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .map_err(|e| {
            format!("systemd-analyze: {e} (run scripts/install-ops-deps; make test does)")
        })?;
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    // verify exits 0 even for unknown or misspelt settings; it only warns about them.
    assert!(
        said.trim().is_empty(),
        "verify has something to say: {said}"
    );
    Ok(())
}

#[test]
fn the_systemd_units_hardening_rates_ok_in_systemd_analyze_security() -> TestResult {
    let (_dir, unit) = installed_copy()?;
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(&unit)
        .output()?;
    let said = String::from_utf8_lossy(&out.stdout);
    let level: f64 = said
        .split("Overall exposure level for artifact-review.service: ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("no exposure level: {said}"))?;
    // systemd rates 0–10; under 2 is its best band ("OK").
    assert!(level < 2.0, "exposure {level}: {said}");
    Ok(())
}
