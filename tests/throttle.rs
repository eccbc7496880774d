//! Sign-in throttling (issue 13, items 2 and 3): at most 10 wrong guesses per account and address
//! in 15 minutes, and 50 per account over all addresses, whatever an attacker interleaves or
//! parallelises; another account's right password from the same address still gets in at once;
//! `X-Forwarded-For` is believed only from a `--trusted-proxy`.

mod common;

use common::*;
use serde_json::json;

const VICTIM: &str = "victim@example.com";
const VICTIM_PASSWORD: &str = "the victim's own password";
const MALLORY: &str = "mallory@example.com";
const MALLORY_PASSWORD: &str = "mallory's own password";

fn guess(server: &Server, email: &str, password: &str, forwarded_for: Option<&str>) -> Resp {
    let body = json!({"email": email, "password": password}).to_string();
    let headers: Vec<(&str, &str)> = forwarded_for
        .map(|ip| vec![("X-Forwarded-For", ip)])
        .unwrap_or_default();
    server.request(
        "POST",
        "/api/v1/session",
        &Auth::None,
        Some(body.as_bytes()),
        &headers,
    )
}

/// Failed sign-ins recorded against the account `email`.
fn recorded_failures(server: &Server, email: &str) -> Result<i64, rusqlite::Error> {
    server.open_db().query_row(
        "SELECT count(*) FROM audit_events e JOIN users u ON u.id = e.user_id
          WHERE e.action = 'session.failed' AND u.email = ?1",
        [email],
        |r| r.get(0),
    )
}

fn two_accounts(server: &Server) {
    server.setup_owner();
    server.add_user(VICTIM, "Victim", VICTIM_PASSWORD);
    server.add_user(MALLORY, "Mallory", MALLORY_PASSWORD);
}

#[test]
fn signing_into_your_own_account_between_guesses_buys_no_more_guesses() -> TestResult {
    let server = Server::start();
    two_accounts(&server);
    let (mut checked, mut refused) = (0, 0);
    for i in 0..30 {
        let resp = guess(&server, VICTIM, &format!("guess number {i}"), None);
        match resp.status {
            401 => checked += 1,
            429 => {
                refused += 1;
                assert_eq!(resp.error_code(), "too_many_requests");
                let wait: u64 = resp.header("retry-after").ok_or("Retry-After")?.parse()?;
                assert!((1..=15 * 60).contains(&wait), "{wait}");
            }
            other => panic!("unexpected {other}: {}", resp.text()),
        }
        // The attacker's own right password, from the same address, every time.
        let own = guess(&server, MALLORY, MALLORY_PASSWORD, None);
        assert_eq!(own.status, 200, "{}", own.text());
    }
    assert_eq!(checked, 10, "ten guesses per account and address");
    assert_eq!(refused, 20);
    assert_eq!(recorded_failures(&server, VICTIM)?, 10);
    Ok(())
}

#[test]
fn parallel_guesses_are_counted_before_their_passwords_are_checked() -> TestResult {
    let server = Server::start();
    two_accounts(&server);
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..100)
            .map(|i| {
                let server = &server;
                scope.spawn(move || {
                    guess(server, VICTIM, &format!("parallel guess {i}"), None).status
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a guessing thread"))
            .collect()
    });
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(checked + refused, 100, "{statuses:?}");
    assert!(
        (1..=10).contains(&checked),
        "{checked} guesses were checked"
    );
    // Keep going one at a time: the budget is ten in all, not ten per burst.
    for i in 0..20 {
        let status = guess(&server, VICTIM, &format!("sequential guess {i}"), None).status;
        assert!(matches!(status, 401 | 429), "{status}");
    }
    assert_eq!(recorded_failures(&server, VICTIM)?, 10);
    assert_eq!(
        guess(&server, VICTIM, "one more", None).status,
        429,
        "the budget is spent"
    );
    Ok(())
}

#[test]
fn an_attack_on_one_account_never_keeps_another_accounts_right_password_out() -> TestResult {
    let server = Server::start_with(&["--trusted-proxy", "127.0.0.1"]);
    two_accounts(&server);
    let office = Some("198.51.100.20");
    for i in 0..15 {
        guess(&server, VICTIM, &format!("guess {i}"), office);
    }
    assert_eq!(guess(&server, VICTIM, "again", office).status, 429);
    // A colleague behind the same address signs in at once.
    let colleague = guess(&server, MALLORY, MALLORY_PASSWORD, office);
    assert_eq!(colleague.status, 200, "{}", colleague.text());
    assert!(session_cookie(&colleague).is_some());
    let owner = guess(&server, "ada@example.com", OWNER_PASSWORD, office);
    assert_eq!(owner.status, 200, "{}", owner.text());
    // The victim from another address too; from the attacked address they wait like the attacker.
    let elsewhere = guess(&server, VICTIM, VICTIM_PASSWORD, Some("203.0.113.8"));
    assert_eq!(elsewhere.status, 200, "{}", elsewhere.text());
    assert_eq!(guess(&server, VICTIM, VICTIM_PASSWORD, office).status, 429);
    Ok(())
}

#[test]
fn an_account_takes_at_most_fifty_wrong_guesses_from_all_addresses_together() -> TestResult {
    let server = Server::start_with(&["--trusted-proxy", "127.0.0.1"]);
    two_accounts(&server);
    let mut checked = 0;
    for address in 1..=7 {
        let ip = format!("192.0.2.{address}");
        for i in 0..10 {
            let status = guess(&server, VICTIM, &format!("guess {address}.{i}"), Some(&ip)).status;
            if status == 401 {
                checked += 1;
            } else {
                assert_eq!(status, 429);
            }
        }
    }
    assert_eq!(checked, 50, "the cap over all addresses");
    assert_eq!(recorded_failures(&server, VICTIM)?, 50);
    let resp = guess(&server, VICTIM, "from a fresh address", Some("192.0.2.99"));
    assert_eq!(resp.status, 429);
    assert!(resp.json()["error"]
        .as_str()
        .unwrap_or_default()
        .contains("from all addresses"));
    // Other accounts are untouched.
    assert_eq!(
        guess(&server, MALLORY, MALLORY_PASSWORD, Some("192.0.2.1")).status,
        200
    );
    Ok(())
}

#[test]
fn forwarded_for_is_believed_only_from_a_trusted_proxy() -> TestResult {
    // Without --trusted-proxy, a client naming a new address in every request gains nothing.
    let server = Server::start();
    two_accounts(&server);
    let mut checked = 0;
    for i in 0..20 {
        let spoofed = format!("203.0.113.{i}");
        if guess(&server, VICTIM, &format!("guess {i}"), Some(&spoofed)).status == 401 {
            checked += 1;
        }
    }
    assert_eq!(checked, 10);
    let addresses: Vec<String> = server
        .open_db()
        .prepare("SELECT DISTINCT ip FROM audit_events WHERE action = 'session.failed'")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    assert_eq!(addresses, ["127.0.0.1"]);

    // Behind a trusted proxy, the address it forwards is the client's: in the throttle, the
    // audit trail and the session record.
    let proxied = Server::start_with(&["--trusted-proxy", "10.9.9.9,127.0.0.0/8"]);
    two_accounts(&proxied);
    guess(&proxied, VICTIM, "wrong", Some("198.51.100.7"));
    let resp = guess(
        &proxied,
        MALLORY,
        MALLORY_PASSWORD,
        Some("1.2.3.4, 198.51.100.8"),
    );
    assert_eq!(resp.status, 200);
    let db = proxied.open_db();
    let failed_from: String = db.query_row(
        "SELECT ip FROM audit_events WHERE action = 'session.failed'",
        [],
        |r| r.get(0),
    )?;
    assert_eq!(failed_from, "198.51.100.7");
    let session_from: String = db.query_row(
        "SELECT ip FROM sessions ORDER BY id DESC LIMIT 1",
        [],
        |r| r.get(0),
    )?;
    assert_eq!(
        session_from, "198.51.100.8",
        "the rightmost hop the proxy added, not what the client wrote"
    );
    Ok(())
}

#[test]
fn the_trusted_proxy_can_be_named_in_the_environment() -> TestResult {
    let mut child = std::process::Command::new(BIN)
        .args(["--help"])
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let mut help = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().ok_or("stdout")?, &mut help)?;
    child.wait()?;
    assert!(help.contains("--trusted-proxy"), "{help}");
    assert!(help.contains("ARTIFACT_REVIEW_TRUSTED_PROXY"), "{help}");
    let out = std::process::Command::new(BIN)
        .args(["--trusted-proxy", "not-an-address", "--help"])
        .output()?;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an IP address"));
    Ok(())
}
