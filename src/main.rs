//! The `artifact-review` executable: parse the command line, start logging, open the store, run the
//! server or an admin command, and turn the outcome into an exit code.

use std::process::ExitCode;

use artifact_review::config::{Cli, Command};
use artifact_review::proxy::TrustedProxies;
use artifact_review::store::Store;
use artifact_review::{cli, server};

fn main() -> ExitCode {
    let args = Cli::parse_checked();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format_timestamp_millis()
        .init();
    // An admin command never makes a database by accident (a mistyped --db); the server does.
    if let Some(admin) = args.command.as_ref().and_then(Command::admin) {
        if !admin.create && !args.db.exists() {
            eprintln!(
                "error: no database at {}; start the server once there or pass --create",
                args.db.display()
            );
            return ExitCode::FAILURE;
        }
    }
    let store = match Store::open(&args.db) {
        Ok(store) => store,
        Err(e) => {
            eprintln!("error: cannot open the database {}: {e}", args.db.display());
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout().lock();
    let outcome = match args.command {
        None => return run_server(store, args.serve),
        Some(Command::Serve(serve)) => return run_server(store, serve),
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

fn run_server(store: Store, serve: artifact_review::config::ServeArgs) -> ExitCode {
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
        let listener = tokio::net::TcpListener::bind(serve.addr)
            .await
            .map_err(|e| {
                std::io::Error::new(e.kind(), format!("cannot listen on {}: {e}", serve.addr))
            })?;
        let proxies = TrustedProxies::new(serve.trusted_proxies.clone());
        server::serve(
            listener,
            store,
            serve.base_url.clone(),
            proxies,
            serve.limits(),
            shutdown_signal(),
        )
        .await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            log::error!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                log::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => log::info!("received Ctrl-C"),
        _ = terminate => log::info!("received SIGTERM"),
    }
}
