//! The benchmark harness of studio-bff (issue 5). `bench/run.sh` builds it and the
//! service and runs it; it starts what it needs (the service on a fresh PostgreSQL
//! database, a second instance, the service on SQLite, the baseline servers, pgbench),
//! drives the service over loopback, and writes RESULTS.md. Every process it starts is
//! stopped when it ends, also on failure or Ctrl-C.
//!
//! ```text
//! studio-bench [--smoke] --service-bin PATH --out FILE [--repo DIR] [--contract DIR]
//!              [--invocation TEXT] [--build TEXT] [--only SCENARIO,...]
//!              [--scale-accounts N] [--reset-accounts N]
//! studio-bench baseline --kind header|typename --addr ADDR [--database-url URL --secret S]
//! ```
use std::path::PathBuf;
use std::process::ExitCode;

mod baseline;
mod contract;
mod http;
mod procs;
mod queues;
mod report;
mod reset;
mod scale;
mod scenarios;
mod setup;
mod ws;

pub type Error = Box<dyn std::error::Error + Send + Sync>;
pub type Result<T> = std::result::Result<T, Error>;

/// Returns an error made of a formatted message.
#[macro_export]
macro_rules! bail {
    ($($message:tt)*) => {
        return Err(format!($($message)*).into())
    };
}

/// What the harness was asked to do.
pub struct Opts {
    /// Seconds per scenario, tiny sizes, no target checked; any failure fails the run.
    pub smoke: bool,
    pub service_bin: PathBuf,
    pub out: PathBuf,
    pub repo: PathBuf,
    pub contract: PathBuf,
    /// How the harness was invoked, for the record.
    pub invocation: String,
    /// How it was built, for the record.
    pub build: String,
    /// The scenarios to run (see [`scenarios::NAMES`]); all when empty. For profiling
    /// one scenario; the report then holds only those.
    pub only: Vec<String>,
    /// Accounts of the reset scenario instead of its size's (`--reset-accounts N`).
    pub reset_accounts: Option<usize>,
    /// Accounts of the `scale` scenario's big database instead of its size's (1,000,000
    /// in a full run), for a machine that cannot fill that many in time.
    pub scale_accounts: Option<usize>,
}

impl Opts {
    fn parse(args: &[String]) -> Result<Opts> {
        let mut smoke = false;
        let (mut service_bin, mut out, mut repo, mut contract) = (None, None, None, None);
        let (mut invocation, mut build) = (None, None);
        let mut only = Vec::new();
        let mut reset_accounts = None;
        let mut scale_accounts = None;
        let mut rest = args.iter();
        while let Some(arg) = rest.next() {
            let mut value = || rest.next().cloned().ok_or_else(|| format!("{arg} needs a value"));
            match arg.as_str() {
                "--smoke" => smoke = true,
                "--service-bin" => service_bin = Some(PathBuf::from(value()?)),
                "--out" => out = Some(PathBuf::from(value()?)),
                "--repo" => repo = Some(PathBuf::from(value()?)),
                "--contract" => contract = Some(PathBuf::from(value()?)),
                "--invocation" => invocation = Some(value()?),
                "--build" => build = Some(value()?),
                "--only" => only.extend(value()?.split(',').map(str::to_owned)),
                "--reset-accounts" => reset_accounts = Some(accounts(arg, &value()?)?),
                "--scale-accounts" => scale_accounts = Some(accounts(arg, &value()?)?),
                other => bail!("unknown argument {other:?}"),
            }
        }
        let repo = std::fs::canonicalize(repo.unwrap_or_else(|| PathBuf::from(".")))?;
        let service_bin = std::fs::canonicalize(service_bin.ok_or("--service-bin is required")?)?;
        if let Some(unknown) = only.iter().find(|name| !scenarios::NAMES.contains(&name.as_str())) {
            bail!(
                "unknown scenario {unknown:?}; the scenarios are {}",
                scenarios::NAMES.join(", ")
            );
        }
        Ok(Opts {
            smoke,
            service_bin,
            out: out.ok_or("--out is required")?,
            contract: contract.unwrap_or_else(|| repo.join("contract/operations")),
            repo,
            invocation: invocation.unwrap_or_else(|| format!("studio-bench {}", args.join(" "))),
            build: build.unwrap_or_else(|| "(built by the caller)".into()),
            only,
            reset_accounts,
            scale_accounts,
        })
    }
}

/// The count of accounts `n` given to `flag`: a positive whole number.
fn accounts(flag: &str, n: &str) -> Result<usize> {
    match n.parse() {
        Ok(n) if n > 0 => Ok(n),
        _ => bail!("{flag} takes a count of accounts, not {n:?}"),
    }
}

/// Resolves on SIGINT, SIGTERM or SIGHUP, with the signal's name.
async fn interrupted() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => "SIGINT",
        _ = term.recv() => "SIGTERM",
        _ = hup.recv() => "SIGHUP",
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    if args.first().map(String::as_str) == Some("baseline") {
        return match runtime.block_on(baseline::main(&args[1..])) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("studio-bench baseline: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let opts = match Opts::parse(&args) {
        Ok(opts) => opts,
        Err(e) => {
            eprintln!("studio-bench: {e}");
            return ExitCode::from(2);
        }
    };
    // Dropping the run (on a signal) stops its processes and drops its databases.
    let outcome = runtime.block_on(async {
        tokio::select! {
            outcome = scenarios::run(opts) => outcome,
            signal = interrupted() => Err(format!("stopped by {signal}").into()),
        }
    });
    runtime.shutdown_background();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("studio-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
