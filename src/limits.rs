//! The limits that keep the server fair under mixed load, with their defaults: connections per
//! client address, how fast a request body must arrive, how long a client may leave an answer
//! unread, the memory budget that uploads and
//! Markdown renders draw on, and each account's storage quota. Set with flags (`config`), read by
//! the accept loop and the handlers.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

pub const KIB: u64 = 1024;
pub const MIB: u64 = 1024 * KIB;
pub const GIB: u64 = 1024 * MIB;

/// Open connections per client address (IPv6: per /64) before new ones get an immediate 429.
pub const DEFAULT_CONNECTIONS_PER_ADDRESS: usize = 256;
/// Every request body gets this long...
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// ...plus one second for every this many bytes received (the slowest upload that keeps going).
pub const DEFAULT_MIN_BODY_RATE: ByteSize = ByteSize(64 * KIB);
/// A client that reads nothing of an answer for this long has its connection closed.
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// The server's peak resident memory that uploads and Markdown renders are admitted against.
pub const DEFAULT_MEMORY_BUDGET: ByteSize = ByteSize(400 * MIB);
/// Distinct stored bytes per account.
pub const DEFAULT_STORAGE_QUOTA: ByteSize = ByteSize(2 * GIB);

#[derive(Debug, Clone)]
pub struct Limits {
    pub connections_per_address: usize,
    pub body_timeout: Duration,
    /// Bytes per second.
    pub min_body_rate: u64,
    pub send_timeout: Duration,
    pub memory_budget: u64,
    pub storage_quota: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            connections_per_address: DEFAULT_CONNECTIONS_PER_ADDRESS,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            min_body_rate: DEFAULT_MIN_BODY_RATE.0,
            send_timeout: DEFAULT_SEND_TIMEOUT,
            memory_budget: DEFAULT_MEMORY_BUDGET.0,
            storage_quota: DEFAULT_STORAGE_QUOTA.0,
        }
    }
}

/// A number of bytes as people write it: `65536`, `64KiB`, `400MiB`, `2GiB` (also `K`, `KB`,
/// `M`, `MB`, `G`, `GB`; like the spec's MB, every unit is a power of 1,024).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl FromStr for ByteSize {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t.contains(['.', ',']) {
            return Err(format!(
                "{s:?}: give a whole number, such as 1536MiB rather than 1.5GiB"
            ));
        }
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (digits, unit) = t.split_at(split);
        let unit = unit.trim().to_ascii_lowercase();
        let factor = match unit.as_str() {
            "" | "b" => 1,
            "k" | "kb" | "kib" => KIB,
            "m" | "mb" | "mib" => MIB,
            "g" | "gb" | "gib" => GIB,
            _ => {
                return Err(format!(
                    "{s:?}: the unit must be KiB, MiB or GiB (K, KB, M, MB, G and GB count the same, in 1024s), or none, for bytes"
                ))
            }
        };
        digits
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(factor))
            .map(ByteSize)
            .ok_or_else(|| format!("{s:?} is not a size such as 400MiB, 2GiB or 65536"))
    }
}

impl ByteSize {
    /// The size as people read it, and exactly when that rounds (a refusal near a limit must not
    /// read "2 GiB of 2 GiB").
    pub fn exact(self) -> String {
        if self.0 < KIB {
            format!("{} bytes", self.0)
        } else {
            format!("{self} ({} bytes)", self.0)
        }
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        for (unit, size) in [("GiB", GIB), ("MiB", MIB), ("KiB", KIB)] {
            if n >= size {
                let whole = n / size;
                let tenths = (n % size) * 10 / size;
                return if tenths == 0 {
                    write!(f, "{whole} {unit}")
                } else {
                    write!(f, "{whole}.{tenths} {unit}")
                };
            }
        }
        write!(f, "{n} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_units() -> Result<(), String> {
        assert_eq!("65536".parse::<ByteSize>()?, ByteSize(65_536));
        assert_eq!("64KiB".parse::<ByteSize>()?, ByteSize(65_536));
        assert_eq!(" 400 MiB ".parse::<ByteSize>()?, ByteSize(400 * MIB));
        assert_eq!("2G".parse::<ByteSize>()?, ByteSize(2 * GIB));
        assert_eq!("5mb".parse::<ByteSize>()?, ByteSize(5 * MIB));
        for bad in ["", "MiB", "12 parsecs", "-1", "99999999999999999999GiB"] {
            assert!(bad.parse::<ByteSize>().is_err(), "{bad:?}");
        }
        // A fraction is told to be a whole number, not that its unit is wrong.
        let fraction = "1.5MiB".parse::<ByteSize>().expect_err("a fraction");
        assert!(
            fraction.contains("1536MiB rather than 1.5GiB"),
            "{fraction}"
        );
        let unit = "12 parsecs".parse::<ByteSize>().expect_err("a unit");
        assert!(
            unit.contains("K, KB, M, MB, G and GB count the same"),
            "{unit}"
        );
        Ok(())
    }

    #[test]
    fn sizes_display_in_the_largest_whole_unit() {
        assert_eq!(ByteSize(400 * MIB).to_string(), "400 MiB");
        assert_eq!(ByteSize(2 * GIB + GIB / 2).to_string(), "2.5 GiB");
        assert_eq!(ByteSize(512).to_string(), "512 bytes");
    }
}
