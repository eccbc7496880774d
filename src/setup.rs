//! First-run setup: while the database has no account, the server holds one random setup token
//! (only its digest, in memory) and logs a link carrying it. Only the holder of that link can create
//! the first account, so a server reachable by others cannot be claimed by them.

use std::sync::Mutex;

use crate::secrets::{random_token, sha256, RandomError, Secret};

#[derive(Debug, Default)]
pub struct SetupGate {
    digest: Mutex<Option<[u8; 32]>>,
}

impl SetupGate {
    /// Opens the gate with a fresh token and returns it (to be logged as the setup link).
    pub fn open(&self) -> Result<Secret, RandomError> {
        let token = random_token(32)?;
        *self.lock() = Some(token.digest());
        Ok(token)
    }

    /// Whether setup is still possible in this process.
    pub fn is_open(&self) -> bool {
        self.lock().is_some()
    }

    /// Whether `token` is the setup token.
    pub fn accepts(&self, token: &str) -> bool {
        let presented = sha256(token.as_bytes());
        match *self.lock() {
            // Comparing digests: equal-length, and the digest of a guess reveals nothing.
            Some(expected) => expected == presented,
            None => false,
        }
    }

    /// Closes the gate for good (the first account exists).
    pub fn close(&self) {
        *self.lock() = None;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<[u8; 32]>> {
        self.digest.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_issued_token_opens_setup_and_only_until_closed() {
        let gate = SetupGate::default();
        assert!(!gate.accepts("anything"));
        let token = gate.open().expect("OS random source works in tests");
        assert!(gate.accepts(token.expose()));
        assert!(!gate.accepts("guess"));
        gate.close();
        assert!(!gate.accepts(token.expose()));
        assert!(!gate.is_open());
    }
}
