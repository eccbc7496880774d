//! Counting views of versions without a write per load. A view is counted when a person opens a
//! version in the review page (inside the write that makes the frame's viewing grant) or when
//! anyone opens a share link's page (here); the files a page then loads are never counted. Loads
//! by the same viewer within `views::REPEAT_WINDOW_MS` count once: this process remembers the
//! views it counted lately and skips their repeats without touching the database, and the insert
//! itself checks the window (for repeats across a restart).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use crate::secrets::sha256;
use crate::store::views::{self, View, REPEAT_WINDOW_MS};
use crate::store::{Store, StoreResult};

/// Views remembered at most; past this, the old ones are forgotten (the database still dedupes).
const REMEMBERED: usize = 100_000;
/// Browsers told apart per share link and address within the window: past this, the address's
/// further browsers count as one visitor (a client sending a new User-Agent with every load
/// would otherwise add a row each time).
const BROWSERS_PER_ADDRESS: usize = 8;

/// Who viewed.
#[derive(Debug, Clone)]
pub enum Viewer<'a> {
    /// A signed-in person (the same viewer through the review page or a share link).
    Person(i64),
    /// Someone not signed in, through a share link: told apart by address and browser, which are
    /// only ever stored digested.
    Visitor {
        link_id: i64,
        address: IpAddr,
        user_agent: &'a str,
    },
}

impl Viewer<'_> {
    /// The digest stored as the viewer.
    pub fn digest(&self) -> [u8; 32] {
        match self {
            Viewer::Person(user_id) => sha256(format!("person\0{user_id}").as_bytes()),
            Viewer::Visitor {
                link_id,
                address,
                user_agent,
            } => sha256(format!("visitor\0{link_id}\0{address}\0{user_agent}").as_bytes()),
        }
    }

    fn user_id(&self) -> Option<i64> {
        match self {
            Viewer::Person(id) => Some(*id),
            Viewer::Visitor { .. } => None,
        }
    }
}

#[derive(Default)]
pub struct ViewCounter {
    /// (version, viewer) → when this process last counted it.
    recent: Mutex<HashMap<(i64, [u8; 32]), i64>>,
    /// (link, address) → the browsers told apart there lately, with when each was first seen.
    browsers: Mutex<HashMap<(i64, IpAddr), Vec<SeenBrowser>>>,
}

/// A browser's digest, and when it was first seen.
type SeenBrowser = ([u8; 32], i64);

impl ViewCounter {
    /// Counts a view through a share link, unless the same viewer's view of the version was
    /// counted within the window: at most one write, none for a repeat this process counted.
    pub async fn count_link_view(
        &self,
        store: &Store,
        artifact_id: i64,
        version_id: i64,
        viewer: &Viewer<'_>,
        now: i64,
    ) -> StoreResult<()> {
        let digest = match viewer {
            Viewer::Visitor {
                link_id, address, ..
            } if !self.browser_counted(*link_id, *address, viewer.digest(), now) => {
                Viewer::Visitor {
                    link_id: *link_id,
                    address: *address,
                    user_agent: "",
                }
                .digest()
            }
            _ => viewer.digest(),
        };
        let view = View {
            artifact_id,
            version_id,
            viewer: digest,
            user_id: viewer.user_id(),
            via_link: true,
        };
        if !self.first_lately(version_id, view.viewer, now) {
            return Ok(());
        }
        store
            .write_content(move |conn| views::record(conn, &view, now).map(|_| ()))
            .await
    }

    /// Whether this browser (`digest`) is told apart from the address's others on this link:
    /// one of the first `BROWSERS_PER_ADDRESS` seen there within the window.
    fn browser_counted(&self, link_id: i64, address: IpAddr, digest: [u8; 32], now: i64) -> bool {
        let mut browsers = self.browsers.lock().unwrap_or_else(|e| e.into_inner());
        if browsers.len() >= REMEMBERED {
            browsers.retain(|_, seen| seen.iter().any(|(_, at)| now - at < REPEAT_WINDOW_MS));
            if browsers.len() >= REMEMBERED {
                browsers.clear();
            }
        }
        let seen = browsers.entry((link_id, address)).or_default();
        seen.retain(|(_, at)| now - at < REPEAT_WINDOW_MS);
        if seen.iter().any(|(d, _)| *d == digest) {
            return true;
        }
        if seen.len() >= BROWSERS_PER_ADDRESS {
            return false;
        }
        seen.push((digest, now));
        true
    }

    /// Remembers the view; false when it was already counted within the window.
    fn first_lately(&self, version_id: i64, viewer: [u8; 32], now: i64) -> bool {
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        if recent
            .get(&(version_id, viewer))
            .is_some_and(|at| now - at < REPEAT_WINDOW_MS)
        {
            return false;
        }
        if recent.len() >= REMEMBERED {
            recent.retain(|_, at| now - *at < REPEAT_WINDOW_MS);
            if recent.len() >= REMEMBERED {
                recent.clear();
            }
        }
        recent.insert((version_id, viewer), now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeat_within_the_window_is_not_written_and_one_after_it_is() {
        let counter = ViewCounter::default();
        let viewer = Viewer::Person(7).digest();
        assert!(counter.first_lately(1, viewer, 1_000));
        assert!(!counter.first_lately(1, viewer, 1_000 + REPEAT_WINDOW_MS - 1));
        assert!(counter.first_lately(2, viewer, 1_000), "another version");
        assert!(counter.first_lately(1, viewer, 1_000 + REPEAT_WINDOW_MS));
    }

    #[test]
    fn one_address_past_its_browsers_counts_as_one_more_visitor() {
        let counter = ViewCounter::default();
        let address: IpAddr = "192.0.2.1".parse().expect("ip");
        let digest = |ua: &str| {
            Viewer::Visitor {
                link_id: 1,
                address,
                user_agent: ua,
            }
            .digest()
        };
        for n in 0..BROWSERS_PER_ADDRESS {
            assert!(counter.browser_counted(1, address, digest(&format!("ua {n}")), 1_000));
        }
        assert!(!counter.browser_counted(1, address, digest("ua 99"), 1_000));
        assert!(
            counter.browser_counted(1, address, digest("ua 0"), 2_000),
            "one seen"
        );
        let other: IpAddr = "192.0.2.2".parse().expect("ip");
        assert!(
            counter.browser_counted(1, other, digest("ua 99"), 1_000),
            "another address"
        );
        assert!(
            counter.browser_counted(1, address, digest("ua 99"), 1_000 + REPEAT_WINDOW_MS),
            "a window later"
        );
    }

    #[test]
    fn visitors_differ_by_link_address_and_browser_and_people_by_id() {
        let address: IpAddr = "192.0.2.1".parse().expect("ip");
        let v = |link_id, address, user_agent| Viewer::Visitor {
            link_id,
            address,
            user_agent,
        };
        let a = v(1, address, "A").digest();
        assert_eq!(a, v(1, address, "A").digest());
        assert_ne!(a, v(2, address, "A").digest());
        assert_ne!(a, v(1, "192.0.2.2".parse().expect("ip"), "A").digest());
        assert_ne!(a, v(1, address, "B").digest());
        assert_ne!(Viewer::Person(1).digest(), Viewer::Person(2).digest());
    }
}
