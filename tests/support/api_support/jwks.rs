//! The identity provider of the tests: fixed key pairs (`tests/fixtures/jwt-*.pem`,
//! made once with openssl), tokens signed with them, and a JWKS server on loopback
//! whose keys and answers a test changes as it goes, counting the requests it gets.
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The text of `tests/fixtures/<name>`.
pub fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The DER bytes of a PEM file's one block.
fn der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|line| !line.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .expect("a PEM body")
}

/// A private key of the provider, the `kid` it is published under, and its JWK.
#[derive(Clone)]
pub struct KeyPair {
    pub kid: String,
    pub algorithm: Algorithm,
    encoding: EncodingKey,
    pub jwk: Jwk,
}

impl KeyPair {
    /// An RS256 key from a PKCS#1 PEM fixture.
    pub fn rsa(file: &str, kid: &str) -> KeyPair {
        Self::new(EncodingKey::from_rsa_der(&der(&fixture(file))), Algorithm::RS256, kid)
    }

    /// An ES256 key from a PKCS#8 PEM fixture.
    pub fn ec(file: &str, kid: &str) -> KeyPair {
        Self::new(EncodingKey::from_ec_der(&der(&fixture(file))), Algorithm::ES256, kid)
    }

    fn new(encoding: EncodingKey, algorithm: Algorithm, kid: &str) -> KeyPair {
        let mut jwk = Jwk::from_encoding_key(&encoding, algorithm).expect("a public JWK");
        jwk.common.key_id = Some(kid.to_owned());
        KeyPair {
            kid: kid.to_owned(),
            algorithm,
            encoding,
            jwk,
        }
    }

    /// `claims` signed with this key, its `kid` in the header.
    pub fn sign(&self, claims: &impl Serialize) -> String {
        self.sign_as(&self.kid, claims)
    }

    /// `claims` signed with this key, `kid` in the header.
    pub fn sign_as(&self, kid: &str, claims: &impl Serialize) -> String {
        let header = Header {
            kid: Some(kid.to_owned()),
            ..Header::new(self.algorithm)
        };
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("a token")
    }
}

/// What the server answers `GET /jwks.json` with.
#[derive(Clone)]
enum Answer {
    Keys,
    Status(StatusCode),
    Garbage,
    Redirect(String),
}

#[derive(Clone)]
struct Provider {
    answer: Arc<Mutex<Answer>>,
    /// What `Answer::Keys` and `GET /keys.json` serve.
    keys: Arc<Mutex<Vec<Jwk>>>,
    requests: Arc<AtomicUsize>,
}

/// A JWKS server on a free loopback port, until [`JwksServer::go_down`] or the end of
/// the test.
pub struct JwksServer {
    pub url: String,
    pub addr: SocketAddr,
    provider: Provider,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl JwksServer {
    /// Serves the public keys of `keys`.
    pub async fn start(keys: &[&KeyPair]) -> JwksServer {
        let provider = Provider {
            answer: Arc::new(Mutex::new(Answer::Keys)),
            keys: Arc::new(Mutex::new(Vec::new())),
            requests: Arc::new(AtomicUsize::new(0)),
        };
        let router = Router::new()
            .route("/jwks.json", get(jwks))
            .route("/keys.json", get(published_keys))
            .with_state(provider.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let addr = listener.local_addr().expect("an address");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .expect("the JWKS server runs");
        });
        let server = JwksServer {
            url: format!("http://{addr}/jwks.json"),
            addr,
            provider,
            stop: Some(stop),
            task: Some(task),
        };
        server.serve(keys);
        server
    }

    /// From now on, the public keys of `keys`.
    pub fn serve(&self, keys: &[&KeyPair]) {
        *self.provider.keys.lock().expect("the keys") = keys.iter().map(|k| k.jwk.clone()).collect();
        self.answer(Answer::Keys);
    }

    /// From now on, a 302 to `location` (where `/keys.json` serves the keys).
    pub fn redirect_to(&self, location: &str) {
        self.answer(Answer::Redirect(location.to_owned()));
    }

    /// From now on, `status` with an empty body.
    pub fn fail_with(&self, status: StatusCode) {
        self.answer(Answer::Status(status));
    }

    /// From now on, 200 with a body that is not a JWKS.
    pub fn serve_garbage(&self) {
        self.answer(Answer::Garbage);
    }

    fn answer(&self, answer: Answer) {
        *self.provider.answer.lock().expect("the answer") = answer;
    }

    /// How many requests the server has answered.
    pub fn requests(&self) -> usize {
        self.provider.requests.load(Ordering::SeqCst)
    }

    /// Stops listening and closes every connection: a fetch now is refused.
    pub async fn go_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("the JWKS server stops");
        }
    }
}

async fn jwks(State(provider): State<Provider>) -> Response {
    provider.requests.fetch_add(1, Ordering::SeqCst);
    let answer = provider.answer.lock().expect("the answer").clone();
    match answer {
        Answer::Keys => key_set(&provider),
        Answer::Status(status) => status.into_response(),
        Answer::Garbage => "<html>not a key set</html>".into_response(),
        Answer::Redirect(location) => (StatusCode::FOUND, [(axum::http::header::LOCATION, location)]).into_response(),
    }
}

async fn published_keys(State(provider): State<Provider>) -> Response {
    provider.requests.fetch_add(1, Ordering::SeqCst);
    key_set(&provider)
}

fn key_set(provider: &Provider) -> Response {
    let keys = provider.keys.lock().expect("the keys").clone();
    axum::Json(JwkSet { keys }).into_response()
}

/// Who signs the tokens of a test app: its HS256 secret, or a provider's key.
#[derive(Clone)]
pub enum Signer {
    Secret(String),
    Key(Box<KeyPair>),
}

impl Signer {
    pub fn sign(&self, claims: &impl Serialize) -> String {
        match self {
            Signer::Secret(secret) => jsonwebtoken::encode(
                &Header::new(Algorithm::HS256),
                claims,
                &EncodingKey::from_secret(secret.as_bytes()),
            )
            .expect("a token"),
            Signer::Key(key) => key.sign(claims),
        }
    }
}
