//! The `artifact-review` executable: parse the command line, start logging, open the store, run the
//! server or an admin command, and turn the outcome into an exit code.

use std::process::ExitCode;

use tokio::signal::unix::{signal, Signal, SignalKind};

use artifact_review::config::{Cli, Command, ServeArgs};
use artifact_review::litestream::{Litestream, Supervisor};
use artifact_review::proxy::TrustedProxies;
use artifact_review::store::{schema, Checkpoints, Store};
use artifact_review::{cli, server, server_lock};

/// The log's filter: `RUST_LOG` as given when it names modules (`hyper=debug,...`); a bare level
/// (`debug`, `trace`) is this server's, while the libraries stay at `warn`: at debug and trace they
/// log what they parse and send (an artifact's text, request headers with their keys). Default:
/// `info`.
fn log_filter(asked: Option<&str>) -> String {
    match asked.map(str::trim).filter(|a| !a.is_empty()) {
        None => "warn,artifact_review=info".into(),
        Some(level) if !level.contains(['=', ',', '/']) => format!("warn,artifact_review={level}"),
        Some(directives) => directives.to_string(),
    }
}

fn main() -> ExitCode {
    // Whatever this process and its children (Litestream) create holds the database or its
    // pages: its owner's alone, whatever the shell's umask (the systemd unit sets the same).
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let args = Cli::parse_checked();
    env_logger::Builder::new()
        .parse_filters(&log_filter(std::env::var("RUST_LOG").ok().as_deref()))
        .format_timestamp_millis()
        .init();
    // An admin command never makes a database by accident (a mistyped --db); the server does.
    if let Some(admin) = args.command.as_ref().and_then(Command::admin) {
        if admin.create && !args.db.exists() {
            if let Some(problem) = artifact_review::folder_problem(&args.db) {
                eprintln!("error: {problem}");
                return ExitCode::FAILURE;
            }
        } else if !args.db.exists() {
            let remedy = if matches!(args.command, Some(Command::Backup { .. })) {
                "nothing to back up (is --db the server's?)"
            } else {
                "start the server once there or pass --create"
            };
            eprintln!("error: no database at {}; {remedy}", args.db.display());
            return ExitCode::FAILURE;
        }
    }
    let serve = match args.command {
        None => Some(args.serve.clone()),
        Some(Command::Serve(ref serve)) => Some(serve.clone()),
        Some(_) => None,
    };
    if let Some(serve) = serve {
        return run_server(&args.db, serve);
    }
    // A newer binary upgrades the schema when it opens the database: not under a running server
    // of an older version, which would go on with a schema it does not know.
    if let Ok(Some(found)) = schema::behind(&args.db) {
        if server_lock::held_elsewhere(&args.db) {
            eprintln!(
                "error: the database {} is at schema version {found}; this binary would upgrade it \
                 to version {}, but a server of an older version is running on it. Run the \
                 command with that server's binary, or stop the server and start this version's \
                 (it upgrades the database)",
                args.db.display(),
                schema::SCHEMA_VERSION
            );
            return ExitCode::FAILURE;
        }
    }
    // An admin command leaves checkpoints to the server or to Litestream, whichever may be
    // running; with neither, SQLite checkpoints when the last connection closes.
    let store = match Store::open_with(&args.db, Checkpoints::Elsewhere) {
        Ok(store) => store,
        Err(e) => {
            eprintln!("error: cannot open the database {}: {e}", args.db.display());
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout().lock();
    let outcome = match args.command {
        None | Some(Command::Serve(_)) => Ok(()),
        Some(Command::User { command, .. }) => cli::user(&store, command, &mut out),
        Some(Command::Agent { command, .. }) => cli::agent(&store, command, &mut out),
        Some(Command::Key { command, .. }) => cli::key(&store, command, &mut out),
        Some(Command::Backup { path, .. }) => cli::backup(&store, &path, &mut out),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_server(db: &std::path::Path, serve: ServeArgs) -> ExitCode {
    // The address first: a port in use (another server, a second start) is said before anything
    // is created or restored. Bound, not yet listening: no connection waits on a restore.
    let socket = match reserve(serve.addr) {
        Ok(socket) => socket,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", serve.addr);
            return ExitCode::FAILURE;
        }
    };
    // With Litestream: the database restored first if it is missing, then Litestream started once
    // the database is open, and stopped after it is closed.
    let litestream = match &serve.litestream {
        Some(config) => match Litestream::prepare(
            &serve.litestream_bin,
            config,
            db,
            serve.restore_at.as_deref(),
        ) {
            Ok(litestream) => Some(litestream),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    // Taken once Litestream has restored a missing database (and made its folder); held until
    // the server has stopped (the end of this function).
    let lock = match server_lock::ServerLock::take(db) {
        Ok(lock) => lock,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let store = match Store::open_with(db, serve.checkpoints()) {
        Ok(store) => store,
        Err(e) => {
            eprintln!("error: cannot open the database {}: {e}", db.display());
            lock.remove();
            return ExitCode::FAILURE;
        }
    };
    artifact_review::litestream::warn_about_checkpoints(
        &store,
        serve.checkpoints(),
        serve.litestream.is_some(),
    );
    let supervisor = match litestream.map(Supervisor::start).transpose() {
        Ok(supervisor) => supervisor,
        Err(e) => {
            eprintln!("error: cannot start Litestream's supervisor: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = serve_until_stopped(socket, store, &serve, supervisor.as_ref());
    if let Some(supervisor) = supervisor {
        supervisor.stop();
    }
    code
}

/// A socket bound to `addr` (as a listener is: address reuse on), to listen on once the server
/// is ready.
fn reserve(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpSocket> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    Ok(socket)
}

/// Connections the kernel queues before the server accepts them (as `TcpListener::bind`).
const BACKLOG: u32 = 1024;

fn serve_until_stopped(
    socket: tokio::net::TcpSocket,
    store: Store,
    serve: &ServeArgs,
    litestream: Option<&Supervisor>,
) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let listener = socket.listen(BACKLOG).map_err(|e| {
            std::io::Error::new(e.kind(), format!("cannot listen on {}: {e}", serve.addr))
        })?;
        let proxies = TrustedProxies::new(serve.trusted_proxies.clone());
        server::serve(
            listener,
            store,
            serve.base_url.clone(),
            proxies,
            serve.limits(),
            server::Operations {
                metrics_addr: serve.metrics_addr,
                replication: litestream.map(Supervisor::status),
            },
            shutdown_signal(),
        )
        .await
    });
    // The database is closed by now. Work still running on the blocking pool (a read whose client
    // has gone) is not waited for: dropping the runtime would wait for it without limit, after the
    // handler of a second stop signal has gone with the runtime.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// Resolves on the first Ctrl-C (SIGINT) or SIGTERM. Both are listened to from the moment this is
/// called, before the server says where it listens (a signal in between would otherwise end the
/// process on the spot). A second one while requests finish (up to the grace period) stops at
/// once: SQLite keeps the database whole through a stop at any point. One that comes within
/// `SAME_STOP` of the first is that stop said twice, not a second: coreutils' `timeout` signals
/// the process and then its process group, and a terminal's Ctrl-C reaches every process of the
/// foreground group, so a server under either hears one stop twice within microseconds.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    let mut stops = StopSignals::listen();
    async move {
        let which = stops.next().await;
        let first = std::time::Instant::now();
        log::info!("received {which}");
        tokio::spawn(async move {
            loop {
                let again = stops.next().await;
                if first.elapsed() >= SAME_STOP {
                    break;
                }
                log::info!("received {again} again at once (sent to the process group as well): still finishing open requests; another stop signal stops at once");
            }
            log::warn!("a second stop signal: stopping now, without waiting for open requests");
            std::process::exit(1);
        });
    }
}

/// Stop signals this close together are one stop (see `shutdown_signal`); a person pressing Ctrl-C
/// twice to stop at once is slower than this.
const SAME_STOP: std::time::Duration = std::time::Duration::from_millis(100);

/// SIGINT and SIGTERM, each `None` when it could not be listened to (said in the log).
struct StopSignals {
    interrupt: Option<Signal>,
    terminate: Option<Signal>,
}

impl StopSignals {
    fn listen() -> StopSignals {
        let open = |kind: SignalKind, name: &str| match signal(kind) {
            Ok(s) => Some(s),
            Err(e) => {
                log::error!("cannot listen for {name}: {e}");
                None
            }
        };
        StopSignals {
            interrupt: open(SignalKind::interrupt(), "Ctrl-C"),
            terminate: open(SignalKind::terminate(), "SIGTERM"),
        }
    }

    /// The next stop signal's name.
    async fn next(&mut self) -> &'static str {
        async fn heard(signal: &mut Option<Signal>) {
            match signal {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        }
        tokio::select! {
            _ = heard(&mut self.interrupt) => "Ctrl-C",
            _ = heard(&mut self.terminate) => "SIGTERM",
        }
    }
}
