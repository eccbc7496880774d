//! Telling whoever listens that an artifact has new events (comments, replies, versions...), or
//! that who keys and sessions belong to may have changed (a key revoked, someone signed out), once
//! it is committed. Every event is an audit row linked to its artifact (`audit::record`), and
//! every write runs on the writer thread: `audit::record` notes the artifact there, the writer
//! forgets what a rolled-back job noted, and after COMMIT it announces the rest here. Listeners
//! (the live event streams) then read the new events from the database, which stays the one
//! source of truth: an announcement carries no data and a missed one is only a delay.

use std::cell::RefCell;

use tokio::sync::broadcast;

/// Announcements a slow listener may fall behind by before it is told it lagged (it then reads
/// the database anyway).
const CAPACITY: usize = 1024;

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// This artifact has new events.
    Artifact(i64),
    /// Keys, sessions, agents or accounts changed: anyone holding on to a caller checks it again.
    Identities,
}

/// The channel of changes.
#[derive(Debug)]
pub struct Feed {
    tx: broadcast::Sender<Change>,
}

impl Default for Feed {
    fn default() -> Self {
        Feed {
            tx: broadcast::channel(CAPACITY).0,
        }
    }
}

impl Feed {
    /// A new listener, hearing of every announcement from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.tx.subscribe()
    }

    /// Announces a committed batch: events of these artifacts (each once), and whether it touched
    /// identities. No listener is not an error.
    pub(super) fn announce(&self, mut artifacts: Vec<i64>, identities: bool) {
        artifacts.sort_unstable();
        artifacts.dedup();
        for id in artifacts {
            let _ = self.tx.send(Change::Artifact(id));
        }
        if identities {
            let _ = self.tx.send(Change::Identities);
        }
    }
}

thread_local! {
    /// Artifacts that got an event in the job running on this (writer) thread.
    static NOTED: RefCell<Vec<i64>> = const { RefCell::new(Vec::new()) };
}

/// Notes that the running job recorded an event of this artifact.
pub(super) fn note(artifact_id: i64) {
    NOTED.with(|n| n.borrow_mut().push(artifact_id));
}

/// Takes what the job that just ran noted (empty for the next one).
pub(super) fn take_noted() -> Vec<i64> {
    NOTED.with(|n| std::mem::take(&mut *n.borrow_mut()))
}
