//! What the harness starts and must stop: the service and the baseline servers (child
//! processes killed when dropped), scripts (each in a process group of its own, killed
//! as a group when dropped), PostgreSQL databases and roles (dropped when dropped); and
//! what the kernel says about a process.
use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hyper::Method;
use hyper::body::Bytes;

use crate::http::Conn;
use crate::{Result, bail};

/// Where PostgreSQL listens; the scripts in bench/ assume the same.
pub const PG_HOST: &str = "127.0.0.1";
pub const PG_PORT: u16 = 5432;
pub const PG_USER: &str = "postgres";

/// Every external command the harness ran, in order, for RESULTS.md.
static COMMANDS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Notes that `command` ran.
pub fn record(command: String) {
    COMMANDS.lock().expect("the command list").push(command);
}

/// The commands run so far.
pub fn commands() -> Vec<String> {
    COMMANDS.lock().expect("the command list").clone()
}

/// `psql -c sql` on `db` as the superuser; its trimmed output.
pub fn psql(db: &str, sql: &str) -> Result<String> {
    psql_at(PG_PORT, db, sql)
}

/// [`psql`] on the server listening on `port` of `PG_HOST`.
pub fn psql_at(port: u16, db: &str, sql: &str) -> Result<String> {
    let out = Command::new("psql")
        .args(["-h", PG_HOST, "-p", &port.to_string(), "-U", PG_USER, "-d", db])
        .args(["-v", "ON_ERROR_STOP=1", "-X", "-A", "-t", "-q", "-c", sql])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("psql cannot run: {e}"))?;
    if !out.status.success() {
        bail!(
            "psql -d {db} -c {sql:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// A database of this run, dropped (connections and all) when dropped.
pub struct Database {
    pub name: String,
}

impl Database {
    /// Creates `name` afresh.
    pub fn create(name: &str) -> Result<Self> {
        psql("postgres", &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))?;
        psql("postgres", &format!("CREATE DATABASE {name}"))?;
        Ok(Database { name: name.to_owned() })
    }

    /// A database something else creates (a script); dropped with this value.
    pub fn adopt(name: &str) -> Self {
        Database { name: name.to_owned() }
    }

    /// The URL of this database for `user`.
    pub fn url(&self, user: &str) -> String {
        format!("postgres://{user}@{PG_HOST}:{PG_PORT}/{}", self.name)
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Err(e) = psql(
            "postgres",
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        ) {
            eprintln!("studio-bench: could not drop database {}: {e}", self.name);
        }
    }
}

/// A login role whose sessions log every statement (`ALTER ROLE ... SET log_statement`),
/// so only the connections opened as it show in PostgreSQL's log; dropped when dropped.
pub struct LoggingRole {
    pub name: String,
}

impl LoggingRole {
    pub fn create(name: &str) -> Result<Self> {
        psql("postgres", &format!("DROP ROLE IF EXISTS {name}"))?;
        psql("postgres", &format!("CREATE ROLE {name} LOGIN SUPERUSER"))?;
        let role = LoggingRole { name: name.to_owned() };
        psql("postgres", &format!("ALTER ROLE {name} SET log_statement = 'all'"))?;
        Ok(role)
    }
}

impl Drop for LoggingRole {
    fn drop(&mut self) {
        if let Err(e) = psql("postgres", &format!("DROP ROLE IF EXISTS {}", self.name)) {
            eprintln!("studio-bench: could not drop role {}: {e}", self.name);
        }
    }
}

/// Where the PostgreSQL 15 programs are.
const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// A PostgreSQL cluster of the run's own: `initdb` into a folder of the run, started
/// on a free port of loopback with `settings` (`-c name=value`), trusting
/// `PG_USER`; stopped (`-m immediate`) and its folder removed when dropped. As root,
/// its programs run as the `postgres` user, which PostgreSQL requires.
pub struct Cluster {
    pub port: u16,
    data: PathBuf,
}

impl Cluster {
    pub fn start(dir: &Path, name: &str, settings: &[(&str, String)]) -> Result<Cluster> {
        let data = dir.join(name);
        std::fs::create_dir_all(&data)?;
        if output_of("id", &["-u"]) == "0" {
            let status = Command::new("chown").arg("postgres:").arg(&data).status()?;
            if !status.success() {
                bail!("chown postgres {}: {status}", data.display());
            }
        }
        let port = free_addr()?.port();
        let cluster = Cluster { port, data };
        let mut initdb = cluster.program("initdb");
        initdb
            .args(["-U", PG_USER, "--auth=trust", "-E", "UTF8", "--no-sync", "-D"])
            .arg(&cluster.data);
        cluster.run(initdb)?;
        let mut options = format!(
            "-p {port} -c listen_addresses={PG_HOST} -c unix_socket_directories={}",
            cluster.data.display()
        );
        for (key, value) in settings {
            options.push_str(&format!(" -c {key}={value}"));
        }
        let mut start = cluster.program("pg_ctl");
        start
            .arg("-D")
            .arg(&cluster.data)
            .arg("-l")
            .arg(cluster.data.join("server.log"))
            .args(["-w", "-o", &options, "start"]);
        cluster.run(start)?;
        Ok(cluster)
    }

    /// `program` of PostgreSQL 15, as the `postgres` user when the harness is root.
    fn program(&self, program: &str) -> Command {
        let path = Path::new(PG_BIN).join(program);
        if output_of("id", &["-u"]) == "0" {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }

    fn run(&self, mut command: Command) -> Result<()> {
        record(describe(&command));
        let out = command.stdin(Stdio::null()).output()?;
        if !out.status.success() {
            bail!(
                "{} failed ({}): {}",
                describe(&command),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }

    /// The URL of database `db` on this cluster.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://{PG_USER}@{PG_HOST}:{}/{db}", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let mut stop = self.program("pg_ctl");
        stop.arg("-D").arg(&self.data).args(["-m", "immediate", "-w", "stop"]);
        if let Err(e) = self.run(stop) {
            eprintln!(
                "studio-bench: could not stop the cluster in {}: {e}",
                self.data.display()
            );
        }
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

/// A free port on loopback (free when asked; the child binds it right after).
pub fn free_addr() -> Result<SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?)
}

/// A server in a child process, killed when dropped; its output goes to `log`.
pub struct Server {
    child: Child,
    pub name: String,
    pub addr: SocketAddr,
    pub log: PathBuf,
}

impl Server {
    /// Starts `command` (which must listen on `addr`) and waits until `GET /readyz`
    /// answers 200.
    pub async fn start(name: &str, mut command: Command, addr: SocketAddr, dir: &Path) -> Result<Server> {
        let log = dir.join(format!("{name}.log"));
        let file = File::create(&log)?;
        // The caller's STUDIO_* settings must not leak into a benchmarked service.
        for (key, _) in std::env::vars() {
            if key.starts_with("STUDIO_") || key == "DATABASE_URL" || key == "RUST_LOG" {
                command.env_remove(key);
            }
        }
        command.stdin(Stdio::null()).stdout(file.try_clone()?).stderr(file);
        record(describe(&command));
        let child = command
            .spawn()
            .map_err(|e| format!("{name}: {:?} cannot start: {e}", command.get_program()))?;
        let mut server = Server {
            child,
            name: name.to_owned(),
            addr,
            log,
        };
        server.wait_ready(Duration::from_secs(60)).await?;
        Ok(server)
    }

    async fn wait_ready(&mut self, limit: Duration) -> Result<()> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "{} exited ({status}) before it was ready:\n{}",
                    self.name,
                    self.log_tail(20)
                );
            }
            let mut conn = Conn::new(self.addr);
            if let Ok((status, _)) = conn.send(Method::GET, "/readyz", None, Bytes::new()).await
                && status.is_success()
            {
                return Ok(());
            }
            if started.elapsed() > limit {
                bail!("{} was not ready within {limit:?}:\n{}", self.name, self.log_tail(20));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last `lines` lines of the server's output.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// How many lines of the server's output contain `needle`.
    pub fn log_count(&self, needle: &str) -> usize {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(needle))
            .count()
    }

    /// Fails if the server has exited.
    pub fn check_alive(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("{} exited ({status}):\n{}", self.name, self.log_tail(20));
        }
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The command line of `command`, with the environment it sets, for the record.
pub fn describe(command: &Command) -> String {
    let mut text = String::new();
    for (key, value) in command.get_envs() {
        if let Some(value) = value {
            text.push_str(&format!("{}={} ", key.to_string_lossy(), value.to_string_lossy()));
        }
    }
    text.push_str(&command.get_program().to_string_lossy());
    for arg in command.get_args() {
        let arg = arg.to_string_lossy();
        if arg.contains(' ') || arg.is_empty() {
            text.push_str(&format!(" '{arg}'"));
        } else {
            text.push_str(&format!(" {arg}"));
        }
    }
    text
}

/// Kills a process group when dropped: a script and whatever it started.
struct GroupGuard(u32);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0)])
            .stderr(Stdio::null())
            .status();
    }
}

/// Runs `command` in a process group of its own to the end and returns its standard
/// output; fails with its standard error if it fails. The group is killed when the run
/// ends or is abandoned, so nothing it started outlives it.
pub async fn run_script(command: Command) -> Result<String> {
    record(describe(&command));
    let label = command.get_program().to_string_lossy().into_owned();
    let mut command = tokio::process::Command::from(command);
    command
        .process_group(0)
        .kill_on_drop(true)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = command.spawn().map_err(|e| format!("{label} cannot start: {e}"))?;
    let _group = child.id().map(GroupGuard);
    let out = child.wait_with_output().await?;
    if !out.status.success() {
        bail!(
            "{label} failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The resident memory of `pid`, in KiB (`VmRSS`).
pub fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("no VmRSS for process {pid}").into())
}

/// How many files `pid` may open (the soft `Max open files` of `/proc/<pid>/limits`).
pub fn open_files_limit(pid: u32) -> Result<u64> {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits"))?;
    limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|soft| soft.parse().ok())
        .ok_or_else(|| format!("no open-file limit for process {pid}").into())
}

/// User plus system CPU time of `pid`, in clock ticks.
pub fn cpu_ticks(pid: u32) -> Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces; the fields after it are fixed.
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or_default();
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the name: state is field 3, utime 14 and stime 15 of the whole line.
    let utime: u64 = fields.get(11).and_then(|v| v.parse().ok()).ok_or("no utime")?;
    let stime: u64 = fields.get(12).and_then(|v| v.parse().ok()).ok_or("no stime")?;
    Ok(utime + stime)
}

/// Clock ticks per second (`getconf CLK_TCK`).
pub fn clock_ticks_per_second() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100)
}

/// The output of a command for the machine description, or `unknown`.
pub fn output_of(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".into())
}
