//! What the service logs: one line per request at INFO (operation, outcome, latency,
//! request id), each on stderr while the service runs, and the banner on stdout, so
//! `log_format = "json"` gives a log collector nothing but JSON lines; and a migration
//! that says nothing when nothing is wrong.
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use entity::enums::PlanCode;
use serde_json::json;
use studio_bff::config::Config;
use studio_bff::ids::Kind;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

use crate::api_support::TestApp;
use crate::common::TestDb;

/// The fields of a span or an event, as `name=value ` pairs.
#[derive(Default)]
struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!("{}={:?} ", field.name(), value));
    }
}

/// Records every `answered` and `refused` event of the service, with the fields of the
/// span it was logged in.
struct Answers(Arc<Mutex<Vec<String>>>);

impl<S> tracing_subscriber::Layer<S> for Answers
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &tracing::span::Attributes<'_>, id: &tracing::span::Id, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        if !event.metadata().target().starts_with("studio_bff") {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        if !fields.0.starts_with("message=answered ") && !fields.0.starts_with("message=refused ") {
            return;
        }
        let span = ctx.event_span(event).map(|span| {
            let extensions = span.extensions();
            let own = extensions.get::<Fields>().map(|f| f.0.clone()).unwrap_or_default();
            format!("{}{{{}}} ", span.name(), own.trim_end())
        });
        let line = format!(
            "{} {}{}",
            event.metadata().level(),
            span.unwrap_or_default(),
            fields.0.trim_end()
        );
        self.0.lock().expect("not poisoned").push(line);
    }
}

#[tokio::test]
async fn each_request_is_one_info_line_with_its_operation_outcome_latency_and_request_id() {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let subscriber = tracing_subscriber::registry().with(Answers(lines.clone()));
    let _guard = tracing::subscriber::set_default(subscriber);
    let db = TestDb::sqlite().await;
    let app = TestApp::start(&db, Config::default()).await;
    let account = app
        .ledger
        .create_account("A", PlanCode::Professional, 1, None)
        .await
        .unwrap();
    let member = app.member(account.id);
    // Other tests of this binary may have met these callsites first, with no
    // subscriber: their interest was cached as "never" then.
    tracing::callsite::rebuild_interest_cache();

    app.op(&member, "HeaderBalanceInitial", json!({})).await;
    let basic_pack = app.gid(Kind::CreditPack, "basic-small");
    app.op(
        &member,
        "BuyPack",
        json!({"packId": basic_pack, "idempotencyKey": "k1"}),
    )
    .await;
    app.query(&member, "{ nope }", json!({})).await;
    let aliases: String = (0..20).map(|i| format!("a{i}: viewer {{ role }} ")).collect();
    app.query(&member, &format!("query Aliased {{ {aliases} }}"), json!({}))
        .await;
    let (status, _) = app.post(None, json!({"query": "{ viewer { role } }"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let lines = lines.lock().expect("not poisoned").clone();
    assert_eq!(lines.len(), 5, "{lines:#?}");
    let expected = [
        (r#"operation="HeaderBalanceInitial""#, r#"outcome="ok""#),
        (
            r#"operation="BuyPack""#,
            r#"outcome="user_error" codes="PACK_NOT_AVAILABLE""#,
        ),
        (r#"operation="anonymous""#, r#"outcome="error" codes="BAD_USER_INPUT""#),
        (r#"operation="Aliased""#, r#"outcome="error" codes="BAD_USER_INPUT""#),
    ];
    for (line, (operation, outcome)) in lines.iter().zip(expected) {
        assert!(line.starts_with("INFO graphql{"), "{line}");
        assert!(line.contains(operation), "{line}");
        assert!(line.contains("request_id="), "{line}");
        assert!(
            line.contains(&format!("message=answered {outcome} latency_ms=")),
            "{line}"
        );
    }
    // Refused before any operation ran: no operation, no request id, but the outcome.
    assert!(
        lines[4].ends_with(r#"message=refused outcome="error" codes="UNAUTHENTICATED" status=401"#),
        "{}",
        lines[4]
    );
}

/// The service's binary in a folder of its own, with nothing in its environment but
/// what a test gives it; stdout and stderr kept apart, in files. Killed when dropped.
pub struct Binary {
    child: Option<std::process::Child>,
    dir: tempfile::TempDir,
    /// Where it listens, as its banner says.
    pub addr: String,
}

impl Binary {
    /// Runs `studio-bff args` with `env` to its end; its status, stdout and stderr.
    pub fn run(args: &[&str], env: &[(&str, &str)]) -> (std::process::ExitStatus, String, String) {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_studio-bff"))
            .args(args)
            .current_dir(dir.path())
            .env_clear()
            .envs(env.iter().copied())
            .output()
            .expect("the binary runs");
        let text = |bytes: Vec<u8>| String::from_utf8(bytes).expect("UTF-8");
        (output.status, text(output.stdout), text(output.stderr))
    }

    /// Starts the service with `env` (and its `DATABASE_URL`'s listener direct when it
    /// goes through the pooler: [`crate::common::listen_url`]) on a free port; returns once its banner names the
    /// address it listens on.
    pub async fn start(env: &[(&str, &str)]) -> Binary {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let file = |name: &str| std::fs::File::create(dir.path().join(name)).expect("a log file");
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_studio-bff"))
            .current_dir(dir.path())
            .env_clear()
            .env("STUDIO_ADDR", "127.0.0.1:0")
            .envs(listen_env(env))
            .envs(env.iter().copied())
            .stdout(file("stdout"))
            .stderr(file("stderr"))
            .spawn()
            .expect("the service starts");
        let mut binary = Binary {
            child: Some(child),
            dir,
            addr: String::new(),
        };
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let stdout = binary.stdout();
            if let Some(addr) = stdout
                .lines()
                .find_map(|line| line.trim().strip_prefix("GraphQL: http://"))
                .and_then(|rest| rest.split('/').next())
            {
                binary.addr = addr.to_owned();
                return binary;
            }
            let exited = binary.child.as_mut().and_then(|c| c.try_wait().ok().flatten());
            assert!(
                exited.is_none(),
                "exited ({exited:?}) before it listened:\n{}",
                binary.stderr()
            );
            assert!(
                tokio::time::Instant::now() < deadline,
                "no banner within 30 s:\n{}",
                binary.stderr()
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Sends `query` with an OPS token and checks that it is answered 200.
    pub async fn ask_as_ops(&self, query: &str) {
        let ops = studio_bff::auth::Auth::new(crate::api_support::SECRET)
            .mint(
                "ops-1",
                studio_bff::auth::Role::Ops,
                None,
                std::time::Duration::from_secs(60),
            )
            .unwrap();
        let answer =
            crate::api_support::service::post_graphql(&self.addr, Some(&ops), &json!({ "query": query })).await;
        assert!(
            matches!(answer, crate::api_support::service::Reply::Answered(StatusCode::OK, _)),
            "{answer:?}"
        );
    }

    pub fn stdout(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stdout")).unwrap_or_default()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr")).unwrap_or_default()
    }

    /// Stops it with SIGTERM, as an orchestrator does, and waits for it to exit.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        self.terminate();
        self.exited_within(std::time::Duration::from_secs(15))
            .unwrap_or_else(|| panic!("still running 15 s after SIGTERM:\n{}", self.stderr()))
    }

    /// Sends SIGTERM, and goes on at once.
    pub fn terminate(&self) {
        let child = self.child.as_ref().expect("running");
        std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill runs");
    }

    /// Its exit status once it exits within `bound`; killed and none if it does not.
    pub fn exited_within(&mut self, bound: std::time::Duration) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take().expect("running");
        let deadline = std::time::Instant::now() + bound;
        while std::time::Instant::now() < deadline {
            if let Some(status) = child.try_wait().expect("a status") {
                return Some(status);
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Every line of `stderr`, each parsed as JSON; fails on a line that is not.
fn json_lines(stderr: &str) -> Vec<serde_json::Value> {
    stderr
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}\n{stderr}")))
        .collect()
}

on_both_databases! {
    async fn with_json_logs_stderr_holds_json_lines_only_and_stdout_the_banner(db) {
        let env = [
            ("DATABASE_URL", db.url.as_str()),
            ("STUDIO_JWT_SECRET", crate::api_support::SECRET),
            ("STUDIO_LOG_FORMAT", "json"),
            ("RUST_LOG", "info"),
        ];
        let mut service = Binary::start(&env).await;
        service.ask_as_ops("query Who { viewer { role } }").await;
        // A second instance on the same port fails to start: said in JSON too.
        let taken = [&env[..], &[("STUDIO_ADDR", service.addr.as_str())]].concat();
        let (status, _, refused) = Binary::run(&[], &taken);
        assert!(service.stop().success());

        let backend = if db.url.starts_with("sqlite:") { "SQLite" } else { "PostgreSQL" };
        let stdout = service.stdout();
        assert!(stdout.starts_with(&format!("studio-bff on {backend}\n")), "{stdout}");
        assert!(stdout.contains(&format!("GraphQL: http://{}/graphql", service.addr)), "{stdout}");
        assert!(!stdout.contains('{'), "a log line on stdout: {stdout}");
        let stderr = service.stderr();
        let lines = json_lines(&stderr);
        let answered = lines
            .iter()
            .find(|l| l["fields"]["message"] == "answered")
            .unwrap_or_else(|| panic!("no request line: {stderr}"));
        assert_eq!(answered["level"], "INFO");
        assert_eq!(answered["fields"]["outcome"], "ok");
        assert!(answered["fields"]["latency_ms"].is_number(), "{answered}");
        assert_eq!(answered["span"]["operation"], "Who");
        assert!(answered["span"]["request_id"].is_string(), "{answered}");
        assert!(lines.iter().any(|l| l["fields"]["message"] == "shutting down"), "{stderr}");
        // A new database migrated without notices at INFO.
        assert!(!stderr.contains("already exists"), "{stderr}");

        assert_eq!(status.code(), Some(1));
        let refused = json_lines(&refused);
        let last = refused.last().expect("a line");
        assert_eq!(last["level"], "ERROR");
        assert!(last["fields"]["error"].as_str().unwrap().contains("address in use"), "{last}");
    }
}

on_both_databases! {
    /// The writer thread writes a batch of lines 50 ms after its first: a request's
    /// line reaches stderr while the service runs, not only when it stops.
    async fn a_request_line_reaches_stderr_while_the_service_runs(db) {
        let env = [
            ("DATABASE_URL", db.url.as_str()),
            ("STUDIO_JWT_SECRET", crate::api_support::SECRET),
            ("RUST_LOG", "info"),
        ];
        let mut service = Binary::start(&env).await;
        service.ask_as_ops("query Flushed { viewer { role } }").await;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        let line = loop {
            let stderr = service.stderr();
            if let Some(line) = stderr.lines().find(|l| l.contains("operation=\"Flushed\"") && l.contains("answered")) {
                break line.to_owned();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no request line on stderr within 10 s of the answer:\n{stderr}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        assert!(line.contains(" INFO ") && line.contains("outcome=\"ok\""), "{line}");
        assert!(service.stop().success());
    }
}

/// `STUDIO_LISTEN_DATABASE_URL` for a service with `env`, when its `DATABASE_URL` goes
/// through the pooler.
fn listen_env(env: &[(&str, &str)]) -> Option<(&'static str, String)> {
    let (_, url) = env.iter().find(|(key, _)| *key == "DATABASE_URL")?;
    crate::common::listen_url(url).map(|url| ("STUDIO_LISTEN_DATABASE_URL", url))
}
