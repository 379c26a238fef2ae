//! The real binary in a process of its own, on a database the test names (a SQLite file
//! or a PostgreSQL schema) and a loopback port it keeps: started, killed with SIGKILL
//! at any moment, and started again on the same database and port. With a plain
//! HTTP/1 client that tells an answer from a request the kill cut.
use std::fs::{File, OpenOptions};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Body, Bytes};
use hyper::client::conn::http1;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

/// How long the service may take to answer `/readyz` after it was started.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one request may take before the test fails: the service hangs.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The service binary; killed when dropped.
pub struct Service {
    /// `127.0.0.1:<port>`, the same after every restart.
    pub addr: String,
    child: Option<Child>,
    database_url: String,
    env: Vec<(String, String)>,
    /// The working folder, which holds the service's log.
    dir: tempfile::TempDir,
}

/// What became of one request.
#[derive(Debug)]
pub enum Reply {
    /// The whole answer reached the client.
    Answered(StatusCode, Value),
    /// No connection: the service was not running, so nothing was sent.
    NotSent(String),
    /// Sent, and the connection broke before the whole answer arrived: the request may
    /// or may not have acted.
    Cut(String),
}

impl Service {
    /// Starts the binary on `database_url` with `STUDIO_JWT_SECRET` set to
    /// [`super::SECRET`] and `env` on top (e.g. `STUDIO_CLOCK=manual`), on a free
    /// loopback port; returns once it answers `/readyz`.
    pub async fn start(database_url: &str, env: &[(&str, &str)]) -> Service {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut service = Service {
            addr: format!("127.0.0.1:{port}"),
            child: None,
            database_url: database_url.to_owned(),
            env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            dir: tempfile::tempdir().expect("a temporary folder"),
        };
        service.spawn().await;
        service
    }

    /// Kills the process with SIGKILL (no shutdown, no drain) and waits until it is
    /// gone; a no-op when it is not running.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // `Child::kill` is SIGKILL on Unix.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the process if it runs, then starts it again on the same database, port
    /// and environment; returns once it answers `/readyz`.
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn().await;
    }

    /// The running process's id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the service runs").id()
    }

    /// What the service wrote to stderr over all its starts.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// POSTs `body` to `/graphql` as `token`.
    pub async fn post(&self, token: Option<&str>, body: &Value) -> Reply {
        post_graphql(&self.addr, token, body).await
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("service.log")
    }

    async fn spawn(&mut self) {
        let log: File = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("the service's log");
        let child = Command::new(env!("CARGO_BIN_EXE_studio-bff"))
            .current_dir(self.dir.path())
            .env("DATABASE_URL", &self.database_url)
            .env("STUDIO_JWT_SECRET", super::SECRET)
            .env("STUDIO_ADDR", &self.addr)
            .env("RUST_LOG", "warn")
            .envs(crate::common::listen_url(&self.database_url).map(|url| ("STUDIO_LISTEN_DATABASE_URL", url)))
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("the service starts");
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        loop {
            if let Reply::Answered(StatusCode::OK, _) =
                exchange(&self.addr, "GET", "/readyz", None, Empty::<Bytes>::new()).await
            {
                return;
            }
            let exited = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                panic!("the service exited ({status}) before it was ready:\n{}", self.log());
            }
            if tokio::time::Instant::now() >= deadline {
                panic!("the service was not ready within {START_TIMEOUT:?}:\n{}", self.log());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
    }
}

/// POSTs `body` to `/graphql` on `addr` as `token`, on a connection of its own (so a
/// task may send while another kills the service).
pub async fn post_graphql(addr: &str, token: Option<&str>, body: &Value) -> Reply {
    let body = Full::new(Bytes::from(body.to_string()));
    exchange(addr, "POST", "/graphql", token, body).await
}

/// One request on a connection of its own; fails the test if no answer comes within
/// [`REQUEST_TIMEOUT`] while the connection stays open.
async fn exchange<B>(addr: &str, method: &str, path: &str, token: Option<&str>, body: B) -> Reply
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let stream = match TcpStream::connect(addr).await {
        Ok(stream) => stream,
        Err(e) => return Reply::NotSent(e.to_string()),
    };
    let answer = async {
        let (mut sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, addr)
            .header(CONTENT_TYPE, "application/json");
        if let Some(token) = token {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        let response = sender
            .send_request(request.body(body).expect("a valid request"))
            .await?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        Ok::<_, hyper::Error>((status, bytes))
    };
    match tokio::time::timeout(REQUEST_TIMEOUT, answer).await {
        Err(_) => panic!("{method} {path}: no answer within {REQUEST_TIMEOUT:?}"),
        Ok(Err(e)) => Reply::Cut(e.to_string()),
        Ok(Ok((status, bytes))) => {
            let value = serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
            Reply::Answered(status, value)
        }
    }
}
