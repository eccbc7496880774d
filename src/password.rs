//! Passwords: argon2id hashes in PHC form. Hashing costs about 20 ms of CPU, so at most two run at
//! once; the rest wait their turn instead of starving the server.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use tokio::sync::Semaphore;

use crate::secrets::fill_random;

/// Password hashes computed at the same time, at most.
pub const CONCURRENT_HASHES: usize = 2;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("{0}")]
    Random(#[from] crate::secrets::RandomError),
}

/// Hashes with argon2id and a fresh random salt. Blocking: call from a blocking thread.
pub fn hash_blocking(password: &str) -> Result<String, PasswordError> {
    let mut salt = [0u8; 16];
    fill_random(&mut salt)?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| PasswordError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Checks a password against a stored hash. Blocking. A malformed stored hash never matches.
pub fn verify_blocking(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// An argon2id hash (same parameters as ours) of a random password that was thrown away. Verified
/// when the email is unknown, so unknown and known accounts take the same time to refuse; the result
/// is ignored, so knowing this hash gains nothing.
const DECOY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$E+byBcnnqoacyC22BXYPMA$wE73L9nBfn6n+uLDXMZ4V25mU92AfP+6zj+SZPekMoI";

/// The server's password hasher: argon2id on blocking threads, two at a time.
#[derive(Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
}

impl Default for Passwords {
    fn default() -> Self {
        Passwords {
            permits: Arc::new(Semaphore::new(CONCURRENT_HASHES)),
        }
    }
}

impl Passwords {
    pub async fn hash(&self, password: String) -> Result<String, PasswordError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| PasswordError::Hash(e.to_string()))?;
        tokio::task::spawn_blocking(move || hash_blocking(&password))
            .await
            .map_err(|e| PasswordError::Hash(e.to_string()))?
    }

    /// Verifies against `stored`, or against the decoy when there is no account (always false then).
    pub async fn verify(&self, password: String, stored: Option<String>) -> bool {
        let Ok(_permit) = self.permits.acquire().await else {
            return false;
        };
        let known = stored.is_some();
        let stored = stored.unwrap_or_else(|| DECOY_HASH.to_string());
        let matched = tokio::task::spawn_blocking(move || verify_blocking(&password, &stored))
            .await
            .unwrap_or(false);
        known && matched
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_decoy_is_a_well_formed_hash_with_our_parameters() {
        let parsed = PasswordHash::new(DECOY_HASH).expect("the decoy parses");
        let ours = hash_blocking("x").expect("hashing works");
        let ours = PasswordHash::new(&ours).expect("our hash parses");
        assert_eq!(parsed.algorithm, ours.algorithm);
        assert_eq!(parsed.params, ours.params);
        assert!(!verify_blocking("", DECOY_HASH));
    }

    #[test]
    fn a_hash_verifies_its_password_and_nothing_else() {
        let hash = hash_blocking("correct horse battery").expect("hashing works");
        assert!(hash.starts_with("$argon2id$"));
        assert!(!hash.contains("correct horse"));
        assert!(verify_blocking("correct horse battery", &hash));
        assert!(!verify_blocking("correct horse battery!", &hash));
        assert!(!verify_blocking("correct horse battery", "not a hash"));
    }
}
