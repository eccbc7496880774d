//! The server's key for share-link addresses: 32 random bytes in a file beside the database
//! (`<db>.link-key`, readable by its owner only), made on first start.
//!
//! A share link's token must be shown to its owner again (the link menu, `GET …/sharelink`) yet
//! never be stored. So the database keeps a random seed per link and the token's SHA-256 (for
//! lookup); the token is HMAC-SHA-256(key, seed), recomputed when the owner asks. A copy of the
//! database alone reveals no address. A server started without the key file (lost, or a database
//! restored on a new machine) makes a new key: links keep working (lookup uses the stored digest),
//! but their addresses cannot be shown until the owner asks for a new one.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::db_files::Companion;
use crate::secrets::{fill_random, sha256, RandomError, Secret};

/// Bytes of a link token (144 bits; 24 base64url characters).
const TOKEN_BYTES: usize = 18;

pub struct LinkKey {
    /// HMAC-SHA-256 keyed with the key, ready to be cloned for each token.
    mac: Hmac<Sha256>,
    id: [u8; 8],
}

impl std::fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkKey(<redacted>)")
    }
}

/// Copies the key beside `db` to go with the copy `dest_db` (readable by its owner only, replaced
/// atomically), so a server started on the copy shows the same link addresses. Returns where it
/// went, or `None` when `db` has no key yet (no server has run on it).
pub fn copy_beside(db: &Path, dest_db: &Path) -> std::io::Result<Option<PathBuf>> {
    let key = match std::fs::read(Companion::LinkKey.of(db)) {
        Ok(key) => key,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let dest = Companion::LinkKey.of(dest_db);
    let file_name = dest.file_name().unwrap_or_default().to_string_lossy();
    let partial = dest.with_file_name(format!(".{file_name}.partial"));
    let _ = std::fs::remove_file(&partial);
    write_new_private(&partial, &key)?;
    std::fs::rename(&partial, &dest)?;
    Ok(Some(dest))
}

/// Writes `bytes` to a file that must not exist yet, readable by its owner only (0600), and
/// syncs it.
fn write_new_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

impl LinkKey {
    /// Reads the key beside `db`, or makes one there (mode 0600) if there is none.
    pub fn load_or_create(db: &Path) -> std::io::Result<LinkKey> {
        let path = Companion::LinkKey.of(db);
        match File::open(&path) {
            Ok(mut file) => {
                let mut bytes = Vec::new();
                file.read_to_end(&mut bytes)?;
                let key: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
                    std::io::Error::other(format!(
                        "the share-link key {} holds {} bytes, not 32; restore it from a backup, \
                         or move it away to make a new one (existing links then need new addresses)",
                        path.display(),
                        b.len()
                    ))
                })?;
                LinkKey::from_bytes(key)
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                fill_random(&mut key).map_err(std::io::Error::other)?;
                write_new_private(&path, &key).map_err(|e| {
                    std::io::Error::new(
                        e.kind(),
                        format!("cannot create the share-link key {}: {e}", path.display()),
                    )
                })?;
                log::info!("made a new share-link key in {}", path.display());
                LinkKey::from_bytes(key)
            }
            Err(e) => Err(std::io::Error::new(
                e.kind(),
                format!("cannot read the share-link key {}: {e}", path.display()),
            )),
        }
    }

    fn from_bytes(key: [u8; 32]) -> std::io::Result<LinkKey> {
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).map_err(std::io::Error::other)?;
        let digest = sha256(&key);
        let mut id = [0u8; 8];
        id.copy_from_slice(&digest[..8]);
        Ok(LinkKey { mac, id })
    }

    /// Names this key (stored with each link, to know whether its address can be shown).
    pub fn id(&self) -> [u8; 8] {
        self.id
    }

    /// The token derived from a link's seed.
    pub fn token(&self, seed: &[u8; 16]) -> Secret {
        let mut mac = self.mac.clone();
        mac.update(b"artifact-review share link\0");
        mac.update(seed);
        let out = mac.finalize().into_bytes();
        Secret::new(URL_SAFE_NO_PAD.encode(&out[..TOKEN_BYTES]))
    }

    /// A new link's seed and token.
    pub fn issue(&self) -> Result<([u8; 16], Secret), RandomError> {
        let mut seed = [0u8; 16];
        fill_random(&mut seed)?;
        Ok((seed, self.token(&seed)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_made_once_and_derives_the_same_tokens_after_a_restart() {
        let dir = tempfile::tempdir().expect("dir");
        let db = dir.path().join("x.db");
        let first = LinkKey::load_or_create(&db).expect("made");
        let (seed, token) = first.issue().expect("issued");
        assert_eq!(token.expose().len(), 24);
        let again = LinkKey::load_or_create(&db).expect("read back");
        assert_eq!(again.id(), first.id());
        assert_eq!(again.token(&seed), token);
        let (other_seed, other) = first.issue().expect("issued");
        assert_ne!(other_seed, seed);
        assert_ne!(other, token);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(Companion::LinkKey.of(&db))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_damaged_key_file_is_refused_with_what_to_do() {
        let dir = tempfile::tempdir().expect("dir");
        let db = dir.path().join("x.db");
        std::fs::write(Companion::LinkKey.of(&db), b"short").expect("write");
        let err = LinkKey::load_or_create(&db).expect_err("refused");
        assert!(err.to_string().contains("holds 5 bytes, not 32"), "{err}");
    }

    #[test]
    fn another_key_derives_other_tokens() {
        let a = LinkKey::from_bytes([1; 32]).expect("key");
        let b = LinkKey::from_bytes([2; 32]).expect("key");
        assert_ne!(a.id(), b.id());
        assert_ne!(a.token(&[7; 16]), b.token(&[7; 16]));
    }
}
