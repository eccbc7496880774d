//! What a key may do: `reader` (read what its identity can see), `commenter` (that, and comment,
//! reply, resolve and reopen, edit and delete its own comments and replies) or `editor` (everything
//! its identity may do: also publish, rename, delete, share). Each route of the table names the
//! scope it needs (reading routes `reader`, the comment routes `commenter`, every other change
//! `editor`); a key whose scope falls short gets 403 `insufficient_scope`. A signed-in person is
//! never limited by a scope.

use std::fmt;

/// A key's scope, ordered: each one allows what the ones before it allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    Reader,
    Commenter,
    Editor,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Reader, Scope::Commenter, Scope::Editor];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Reader => "reader",
            Scope::Commenter => "commenter",
            Scope::Editor => "editor",
        }
    }

    pub fn parse(text: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether a key with this scope may use a route that needs `needed`.
    pub fn allows(self, needed: Scope) -> bool {
        self >= needed
    }

    /// The scope of a key as stored (`api_keys.scopes`, space-separated): the widest one named.
    /// Anything unreadable counts as `reader`, never as more.
    pub fn of_stored(stored: &str) -> Scope {
        stored
            .split_whitespace()
            .filter_map(Scope::parse)
            .max()
            .unwrap_or(Scope::Reader)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The scope a request body asked for (`"scopes": ["commenter"]`, one of the three); `editor` when
/// none was given. The error says what is allowed.
pub fn requested(scopes: Option<&[String]>) -> Result<Scope, String> {
    match scopes {
        None => Ok(Scope::Editor),
        Some([one]) => Scope::parse(one).ok_or_else(|| {
            format!("scopes must be one of [\"reader\"], [\"commenter\"] or [\"editor\"]; got {one:?}")
        }),
        Some(other) => Err(format!(
            "scopes must name exactly one scope: [\"reader\"], [\"commenter\"] or [\"editor\"]; got {other:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_scope_allows_what_the_narrower_ones_allow() {
        assert!(Scope::Editor.allows(Scope::Commenter));
        assert!(Scope::Editor.allows(Scope::Reader));
        assert!(Scope::Commenter.allows(Scope::Reader));
        assert!(!Scope::Commenter.allows(Scope::Editor));
        assert!(!Scope::Reader.allows(Scope::Commenter));
    }

    #[test]
    fn stored_scopes_read_as_the_widest_named_and_never_more() {
        assert_eq!(Scope::of_stored("editor"), Scope::Editor);
        assert_eq!(Scope::of_stored("reader commenter"), Scope::Commenter);
        assert_eq!(Scope::of_stored("admin"), Scope::Reader);
        assert_eq!(Scope::of_stored(""), Scope::Reader);
    }

    #[test]
    fn a_request_names_one_known_scope_or_none() {
        assert_eq!(requested(None), Ok(Scope::Editor));
        assert_eq!(requested(Some(&["reader".to_string()])), Ok(Scope::Reader));
        assert!(requested(Some(&["owner".to_string()]))
            .unwrap_err()
            .contains("\"owner\""));
        assert!(requested(Some(&[])).is_err());
        assert!(requested(Some(&["reader".to_string(), "editor".to_string()])).is_err());
    }
}
