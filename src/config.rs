//! The command line: sub-commands and flags, each flag with its environment variable and default.
//! The server's flags belong to `serve` (and to the bare command, which runs the server); the admin
//! commands take only `--db` and `--create`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::keys::Overlap;
use crate::limits::{self, ByteSize, Limits};
use crate::memory_budget;
use crate::proxy::ProxyRange;
use crate::scopes::Scope;

pub const DEFAULT_ADDR: &str = "127.0.0.1:8787";
pub const DEFAULT_DB: &str = "./artifact-review.db";

#[derive(Debug, Parser)]
#[command(
    name = "artifact-review",
    version,
    about = "Self-hosted review server for HTML, Markdown and ZIP artifacts made by people and AI agents.",
    after_help = "With no sub-command, runs the server (same as `serve`)."
)]
pub struct Cli {
    /// The SQLite database file. The server creates it with its schema if missing; the admin
    /// commands refuse to unless given --create.
    #[arg(long, env = "ARTIFACT_REVIEW_DB", default_value = DEFAULT_DB, global = true)]
    pub db: PathBuf,

    #[command(flatten)]
    pub serve: ServeArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The server's flags (argument id, flag), which the admin commands do not take.
const SERVER_FLAGS: [(&str, &str); 14] = [
    ("addr", "--addr"),
    ("base_url", "--base-url"),
    ("trusted_proxies", "--trusted-proxy"),
    (
        "max_connections_per_address",
        "--max-connections-per-address",
    ),
    ("body_timeout", "--body-timeout"),
    ("min_body_rate", "--min-body-rate"),
    ("send_timeout", "--send-timeout"),
    ("memory_budget", "--memory-budget"),
    ("storage_quota", "--storage-quota"),
    ("litestream", "--litestream"),
    ("litestream_bin", "--litestream-bin"),
    ("restore_at", "--restore-at"),
    ("checkpoints", "--checkpoints"),
    ("metrics_addr", "--metrics-addr"),
];

impl Cli {
    /// Parses the command line (exiting with clap's message on a mistake). A server flag given
    /// before an admin command (`--addr X key list`) is refused rather than silently ignored, and
    /// an admin command does not read the server's environment variables (set for the service,
    /// a bad one must not stop `key revoke`).
    pub fn parse_checked() -> Cli {
        let mut cli = Cli::parse_args();
        // Two spellings of one file (a symbolic link) must share one server lock.
        cli.db = crate::db_files::real_path(&cli.db);
        cli
    }

    fn parse_args() -> Cli {
        let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
        let mut admin = Cli::command().mut_args(|arg| {
            if SERVER_FLAGS.iter().any(|(id, _)| arg.get_id() == id) {
                arg.env(None)
            } else {
                arg
            }
        });
        if let Ok(matches) = admin.try_get_matches_from_mut(&args) {
            if let Some(sub) = matches.subcommand_name().filter(|s| *s != "serve") {
                refuse_server_flags(&mut admin, &matches, sub);
                return Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
            }
        }
        let mut command = Cli::command();
        let matches = command
            .try_get_matches_from_mut(args)
            .unwrap_or_else(|e| e.exit());
        if let Some(sub) = matches.subcommand_name().filter(|s| *s != "serve") {
            refuse_server_flags(&mut command, &matches, sub);
        }
        Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
    }
}

/// Exits with clap's message when a server flag was given on the command line of `sub`.
fn refuse_server_flags(command: &mut clap::Command, matches: &clap::ArgMatches, sub: &str) {
    for (id, flag) in SERVER_FLAGS {
        if matches.value_source(id) == Some(ValueSource::CommandLine) {
            command
                .error(
                    clap::error::ErrorKind::ArgumentConflict,
                    format!("{flag} is a server option; `{sub}` does not take it (use it with `serve`, or with no sub-command)"),
                )
                .exit();
        }
    }
}

/// The server's own flags.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Server options")]
pub struct ServeArgs {
    /// Address to listen on, an IP address and port (localhost:PORT is 127.0.0.1:PORT); port 0
    /// picks a free port (the log says which).
    #[arg(long, env = "ARTIFACT_REVIEW_ADDR", default_value = DEFAULT_ADDR, value_parser = parse_listen_addr)]
    pub addr: SocketAddr,

    /// Public base URL, used to build share links and to check the Host header
    /// (default: http://<addr>).
    #[arg(long, env = "ARTIFACT_REVIEW_BASE_URL", value_parser = parse_base_url)]
    pub base_url: Option<String>,

    /// Reverse proxy address or CIDR range whose X-Forwarded-For header is believed (repeat the
    /// flag or separate with commas). Without it the header is ignored.
    #[arg(
        long = "trusted-proxy",
        env = "ARTIFACT_REVIEW_TRUSTED_PROXY",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<ProxyRange>,

    /// Open connections per client address (IPv6: per /64 network) before new ones get an
    /// immediate 429; connections from a --trusted-proxy are not counted.
    #[arg(
        long,
        env = "ARTIFACT_REVIEW_MAX_CONNECTIONS_PER_ADDRESS",
        default_value_t = limits::DEFAULT_CONNECTIONS_PER_ADDRESS,
        value_parser = parse_connections
    )]
    pub max_connections_per_address: usize,

    /// Seconds every request body gets to arrive (408 after that), plus one second per
    /// --min-body-rate bytes received.
    #[arg(
        long,
        env = "ARTIFACT_REVIEW_BODY_TIMEOUT",
        default_value_t = limits::DEFAULT_BODY_TIMEOUT.as_secs(),
        value_parser = parse_seconds
    )]
    pub body_timeout: u64,

    /// The slowest a long body (an upload) may arrive, per second, e.g. 64KiB.
    #[arg(long, env = "ARTIFACT_REVIEW_MIN_BODY_RATE", default_value_t = limits::DEFAULT_MIN_BODY_RATE, value_parser = parse_min_body_rate)]
    pub min_body_rate: ByteSize,

    /// Seconds a client may read nothing of an answer being sent (a download, an event stream)
    /// before its connection is closed; what the answer held in memory is given back.
    #[arg(
        long,
        env = "ARTIFACT_REVIEW_SEND_TIMEOUT",
        default_value_t = limits::DEFAULT_SEND_TIMEOUT.as_secs(),
        value_parser = parse_seconds
    )]
    pub send_timeout: u64,

    /// The server's peak memory that uploads and Markdown renders are admitted against, e.g.
    /// 400MiB; beyond it they wait briefly, then get 429.
    #[arg(long, env = "ARTIFACT_REVIEW_MEMORY_BUDGET", default_value_t = limits::DEFAULT_MEMORY_BUDGET, value_parser = parse_memory_budget)]
    pub memory_budget: ByteSize,

    /// Distinct stored bytes per account, e.g. 2GiB; an upload beyond it is refused.
    #[arg(long, env = "ARTIFACT_REVIEW_STORAGE_QUOTA", default_value_t = limits::DEFAULT_STORAGE_QUOTA, value_parser = parse_storage_quota)]
    pub storage_quota: ByteSize,

    /// Replicate the database continuously with Litestream, as this Litestream configuration file
    /// says (it must list --db): restores the database from the replica first when it is missing,
    /// then runs `litestream replicate` alongside the server, and leaves checkpoints to it.
    #[arg(long, env = "ARTIFACT_REVIEW_LITESTREAM", value_name = "CONFIG")]
    pub litestream: Option<PathBuf>,

    /// The Litestream (0.5) executable run by --litestream.
    #[arg(
        long,
        env = "ARTIFACT_REVIEW_LITESTREAM_BIN",
        default_value = "litestream",
        value_name = "PATH"
    )]
    pub litestream_bin: PathBuf,

    /// With --litestream and a missing database: restore the state at this time (RFC 3339, e.g.
    /// 2026-12-06T08:00:00Z) instead of the newest copy. Refused when the database exists.
    #[arg(
        long,
        env = "ARTIFACT_REVIEW_RESTORE_AT",
        value_name = "TIME",
        requires = "litestream",
        value_parser = parse_restore_at
    )]
    pub restore_at: Option<String>,

    /// Who checkpoints the WAL: `server`, or `litestream` when Litestream runs on its own beside the
    /// server (e.g. `litestream replicate -exec`); --litestream implies `litestream`.
    #[arg(long, env = "ARTIFACT_REVIEW_CHECKPOINTS", value_enum, default_value_t = CheckpointsBy::Server)]
    pub checkpoints: CheckpointsBy,

    /// Serve Prometheus metrics at http://ADDR/metrics (off unless given; the endpoint has no
    /// authentication, so keep it on loopback or a private network, e.g. 127.0.0.1:9187).
    #[arg(long, env = "ARTIFACT_REVIEW_METRICS_ADDR", value_name = "ADDR", value_parser = parse_listen_addr)]
    pub metrics_addr: Option<SocketAddr>,
}

/// Who checkpoints the WAL (see `store::Checkpoints`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CheckpointsBy {
    /// The server (on its own).
    Server,
    /// Litestream, which must be the only process to checkpoint while it replicates.
    Litestream,
}

/// What every admin command accepts besides `--db`.
#[derive(Debug, Clone, Copy, Args)]
pub struct AdminArgs {
    /// Create the database (with its schema) if it does not exist yet; without it an admin
    /// command refuses a missing database, so a mistyped --db cannot start an empty one.
    #[arg(long, global = true)]
    pub create: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve(ServeArgs),
    /// Manage accounts.
    User {
        #[command(flatten)]
        admin: AdminArgs,
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage agents.
    Agent {
        #[command(flatten)]
        admin: AdminArgs,
        #[command(subcommand)]
        command: AgentCommand,
    },
    /// Manage API keys.
    Key {
        #[command(flatten)]
        admin: AdminArgs,
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Write a consistent copy of the live database to PATH (SQLite online backup), and its
    /// share-link key to PATH.link-key; prints the paths written. Refuses PATH where it would
    /// replace the database, a file that goes with a database (-wal, -shm, -journal, .link-key,
    /// .server-lock: its own or another backup's) or a file that is not a database.
    /// (No --create: a backup copies a database that exists.)
    Backup {
        /// Where to write the copy (replaced atomically if it exists).
        path: PathBuf,
    },
}

impl Command {
    /// The admin flags of an admin command; `None` for `serve`.
    pub fn admin(&self) -> Option<AdminArgs> {
        match self {
            Command::Serve(_) => None,
            Command::User { admin, .. }
            | Command::Agent { admin, .. }
            | Command::Key { admin, .. } => Some(*admin),
            Command::Backup { .. } => Some(AdminArgs { create: false }),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account; prints its id. The password is read from standard input.
    Create {
        /// The new account's email (its sign-in name).
        #[arg(long)]
        email: String,
        /// The name shown to others.
        #[arg(long)]
        name: String,
        /// Read the password from standard input (required: passwords never go on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
        /// Make the account an admin (the first account always is).
        #[arg(long)]
        admin: bool,
    },
    /// List the accounts (a header line, then tab-separated: id, email, name, role, status,
    /// created, disabled).
    List,
    /// Set an account's password, read from standard input; ends all its sessions.
    SetPassword {
        /// The account's email.
        email: String,
        /// Read the new password from standard input (required: passwords never go on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Disable an account: it cannot sign in, its sessions end and its keys are revoked; what it
    /// did keeps its attribution. The last enabled admin cannot be disabled.
    Disable {
        /// The account's email.
        email: String,
    },
    /// Enable a disabled account again (its revoked keys stay revoked).
    Enable {
        /// The account's email.
        email: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Create an agent under a user; prints its id.
    Create {
        /// The owner's email.
        #[arg(long)]
        user: String,
        /// The agent's name, unique among the owner's agents (ignoring case).
        #[arg(long)]
        name: String,
        /// Optional role, e.g. "coding" or "qa".
        #[arg(long)]
        role: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a key; prints the full key, once.
    Create {
        /// The owner's email.
        #[arg(long)]
        user: String,
        /// A label, e.g. "CI".
        #[arg(long)]
        name: String,
        /// Act as this agent of the user (name or id) instead of the user.
        #[arg(long)]
        agent: Option<String>,
        /// Expire after this many days (default: never).
        #[arg(long)]
        expires_in_days: Option<u32>,
        /// What the key may do: reader (read), commenter (read and comment, reply, resolve) or
        /// editor (everything its identity may do).
        #[arg(long, default_value = "editor", value_parser = parse_scope)]
        scope: Scope,
    },
    /// List a user's keys (a header line, then tab-separated: id, name, prefix, identity, status,
    /// created, expires, last used).
    List {
        /// The owner's email.
        #[arg(long)]
        user: String,
        /// Include revoked keys.
        #[arg(long)]
        all: bool,
    },
    /// Revoke a key by id; takes effect on the server's next request.
    Revoke {
        /// The key id (from `key list`).
        key_id: i64,
    },
    /// Rotate a key: prints a new key (same name, identity and scope), once; the old one keeps
    /// working for the overlap, then expires.
    Rotate {
        /// The key id (from `key list`).
        key_id: i64,
        /// How long the old key keeps working: none, 1h, 1d or 7d.
        #[arg(long, default_value = "1d", value_parser = parse_overlap)]
        overlap: Overlap,
    },
}

/// An address to listen on: an IP address and port, or `localhost:PORT` (the loopback address; no
/// other name is looked up, so the server never listens somewhere a resolver chose).
fn parse_listen_addr(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Some(port) = text.strip_prefix("localhost:") {
        if let Ok(port) = port.parse::<u16>() {
            return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
        }
    }
    Err(format!(
        "{text:?} is not an address to listen on: give an IP address and a port, such as 127.0.0.1:8787 (this machine only), 0.0.0.0:8787 (every interface) or [::1]:8787"
    ))
}

/// Open connections per address: at least one (0 would refuse every client).
/// A time as Litestream's `-timestamp` takes it (RFC 3339: 2026-12-06T08:00:00Z, or with an
/// offset), checked before Litestream is run for it, and not in the future (which would restore
/// the newest copy without a word).
fn parse_restore_at(text: &str) -> Result<String, String> {
    let at: jiff::Timestamp = text.trim().parse().map_err(|e| {
        format!(
            "{text:?} is not a time in RFC 3339 form, such as 2026-12-06T08:00:00Z or 2026-12-06T09:00:00+01:00 ({e})"
        )
    })?;
    if at > jiff::Timestamp::now() {
        return Err(format!(
            "{text:?} is in the future; to restore the newest copy, leave out --restore-at"
        ));
    }
    // As given (Litestream reads RFC 3339 too), so the log says the time the operator wrote.
    Ok(text.trim().to_string())
}

/// A whole number of seconds, at least 1.
fn parse_seconds(text: &str) -> Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(0) => Err("0 seconds leaves no time at all: give at least 1".into()),
        Ok(seconds) => Ok(seconds),
        Err(_) => Err(format!(
            "{text:?} is not a whole number of seconds, such as 30"
        )),
    }
}

fn parse_connections(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(0) => Err("0 would refuse every client; give at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!(
            "{text:?} is not a number of connections such as 256"
        )),
    }
}

/// The slowest body pace: more than nothing (at 0 a body could take forever, which the deadline
/// is there to prevent).
fn parse_min_body_rate(text: &str) -> Result<ByteSize, String> {
    let rate: ByteSize = text.parse()?;
    if rate.0 == 0 {
        return Err(
            "0 would let a body arrive as slowly as it likes; give the slowest pace to accept, \
             per second, such as 1KiB"
                .into(),
        );
    }
    Ok(rate)
}

/// The storage quota: more than nothing (0 would refuse every upload, which is not a quota).
fn parse_storage_quota(text: &str) -> Result<ByteSize, String> {
    let quota: ByteSize = text.parse()?;
    if quota.0 == 0 {
        return Err(
            "0 would refuse every upload; give the most one account may store, such as 2GiB".into(),
        );
    }
    Ok(quota)
}

/// The memory budget: at least the server's own baseline plus room for the largest piece of
/// work it admits (below that it could not admit one, and would exceed the budget to do so).
fn parse_memory_budget(text: &str) -> Result<ByteSize, String> {
    let budget: ByteSize = text.parse()?;
    if budget.0 < memory_budget::FLOOR {
        return Err(format!(
            "{budget} is too small: the least is {}, the server's own {} plus room for one \
             Markdown render ({}) or upload ({})",
            ByteSize(memory_budget::FLOOR),
            ByteSize(memory_budget::BASELINE),
            ByteSize(memory_budget::RENDER),
            ByteSize(memory_budget::UPLOAD),
        ));
    }
    Ok(budget)
}

/// The public base URL: `http` or `https`, a host and optionally a port, nothing after it (the
/// server answers at the root of its host, so share links are `BASE/share/…`); a trailing slash
/// is dropped.
fn parse_base_url(text: &str) -> Result<String, String> {
    let url = text.trim().trim_end_matches('/');
    let refused = || {
        format!(
            "{text:?} is not a public address such as https://review.example.com or \
             http://192.168.1.20:8787 (http or https, a host and an optional port, with no path, \
             query or fragment)"
        )
    };
    let authority = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(refused)?;
    // A host name or IPv4 address, or an IPv6 one in brackets; then an optional port.
    let (host_ok, port) = match authority.strip_prefix('[') {
        Some(rest) => {
            let (address, after) = rest.split_once(']').ok_or_else(refused)?;
            let port = match after {
                "" => None,
                after => Some(after.strip_prefix(':').ok_or_else(refused)?),
            };
            (address.parse::<std::net::Ipv6Addr>().is_ok(), port)
        }
        None => {
            let (host, port) = match authority.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            };
            let name = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.';
            (!host.is_empty() && host.chars().all(name), port)
        }
    };
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|n| n > 0));
    if !host_ok || !port_ok {
        return Err(refused());
    }
    // The scheme's default port written out is the same address, and browsers leave it out (of
    // `Host` and `Origin`): dropped, so that the server answers them and its links match.
    let default_port = if url.starts_with("https://") { 443 } else { 80 };
    if let Some(port) = port.filter(|p| p.parse::<u16>() == Ok(default_port)) {
        return Ok(url[..url.len() - port.len() - 1].to_string());
    }
    Ok(url.to_string())
}

/// An overlap named on the command line.
fn parse_overlap(text: &str) -> Result<Overlap, String> {
    Overlap::parse(text).ok_or_else(|| format!("{text:?} is not an overlap: {}", Overlap::NAMES))
}

/// A scope named on the command line.
fn parse_scope(text: &str) -> Result<Scope, String> {
    Scope::parse(text)
        .ok_or_else(|| format!("{text:?} is not a scope: reader, commenter or editor"))
}

impl ServeArgs {
    /// Who checkpoints the WAL, as these flags say.
    pub fn checkpoints(&self) -> crate::store::Checkpoints {
        if self.litestream.is_some() || self.checkpoints == CheckpointsBy::Litestream {
            crate::store::Checkpoints::Elsewhere
        } else {
            crate::store::Checkpoints::Here
        }
    }

    /// The fairness limits these flags set.
    pub fn limits(&self) -> Limits {
        Limits {
            connections_per_address: self.max_connections_per_address,
            body_timeout: std::time::Duration::from_secs(self.body_timeout),
            min_body_rate: self.min_body_rate.0,
            send_timeout: std::time::Duration::from_secs(self.send_timeout),
            memory_budget: self.memory_budget.0,
            storage_quota: self.storage_quota.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses_are_ip_addresses_or_localhost() {
        assert_eq!(
            parse_listen_addr("localhost:8787"),
            Ok(SocketAddr::from(([127, 0, 0, 1], 8787)))
        );
        assert_eq!(
            parse_listen_addr("[::1]:0"),
            Ok("[::1]:0".parse::<SocketAddr>().expect("an address"))
        );
        let refused = parse_listen_addr("example.com:8787").unwrap_err();
        assert!(refused.contains("such as 127.0.0.1:8787"), "{refused}");
        assert!(parse_listen_addr("127.0.0.1").is_err(), "a port is needed");
    }

    #[test]
    fn every_server_flag_is_listed_as_one() {
        let command = ServeArgs::augment_args(clap::Command::new("serve"));
        let ids: Vec<&str> = command
            .get_arguments()
            .map(|arg| arg.get_id().as_str())
            .collect();
        let listed: Vec<&str> = SERVER_FLAGS.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, listed);
        for (id, flag) in SERVER_FLAGS {
            let arg = command.get_arguments().find(|a| a.get_id() == id);
            assert_eq!(arg.and_then(|a| a.get_long()), flag.strip_prefix("--"));
        }
    }

    #[test]
    fn a_base_url_is_a_scheme_a_host_and_an_optional_port_and_nothing_else() {
        for (given, taken) in [
            ("https://review.example.com", "https://review.example.com"),
            ("https://review.example.com/", "https://review.example.com"),
            ("http://192.168.1.20:8787", "http://192.168.1.20:8787"),
            ("http://[::1]:8787/", "http://[::1]:8787"),
            ("http://[fd00::1]", "http://[fd00::1]"),
            ("http://localhost", "http://localhost"),
            (
                "https://review.example.com:443",
                "https://review.example.com",
            ),
            (
                "https://review.example.com:0443/",
                "https://review.example.com",
            ),
            ("http://review.example.com:80", "http://review.example.com"),
            ("http://[::1]:80", "http://[::1]"),
            (
                "https://review.example.com:80",
                "https://review.example.com:80",
            ),
            (
                "http://review.example.com:443",
                "http://review.example.com:443",
            ),
        ] {
            assert_eq!(parse_base_url(given).as_deref(), Ok(taken), "{given}");
        }
        for refused in [
            "",
            "nonsense",
            "review.example.com",
            "ftp://review.example.com",
            "https://",
            "https://review example.com",
            "https://review.example.com/reviews",
            "https://review.example.com?x=1",
            "https://review.example.com#top",
            "https://user@review.example.com",
            "https://review.example.com:0",
            "https://review.example.com:99999",
            "http://[not-v6]:80",
            "http://[::1]8787",
        ] {
            let error = parse_base_url(refused).expect_err(refused);
            assert!(error.contains("is not a public address such as"), "{error}");
        }
    }
}
