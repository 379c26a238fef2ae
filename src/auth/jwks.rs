//! The identity provider's public keys (its JWKS at `jwt_jwks_url`), cached by `kid`.
//!
//! A token naming a `kid` the cache lacks, or a cache older than [`Refresh::max_age`],
//! makes the cache fetch the set again, but never more than once per
//! [`Refresh::min_interval`]: a flood of tokens with forged kids costs the provider one
//! request per interval. A fetch that fails (the provider down, a 5xx, a body that is
//! not a JWKS) keeps the keys already cached, so tokens signed with them still pass;
//! a fetch that succeeds replaces the set, so a key the provider removed stops being
//! accepted at the next refresh and a new one is picked up without a restart.
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use reqwest::{Client, Url, redirect};
use tokio::sync::Mutex;
use tokio::time::Instant;

/// At most one fetch per this long, whatever the tokens name.
pub const MIN_FETCH_INTERVAL: Duration = Duration::from_secs(5);

/// The set is fetched again when a token arrives and the cache is older than this, so
/// a key the provider removed stops being accepted within about this long.
pub const MAX_KEY_AGE: Duration = Duration::from_secs(10 * 60);

/// Longest a fetch may take, connecting included.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Longest a connection to the provider may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Largest JWKS read; a larger body is not a key set.
const MAX_BODY_BYTES: usize = 256 * 1024;

/// How often the set may and must be fetched again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refresh {
    /// Fetches are at least this far apart.
    pub min_interval: Duration,
    /// Keys older than this are fetched again when a token arrives.
    pub max_age: Duration,
}

impl Default for Refresh {
    fn default() -> Self {
        Refresh {
            min_interval: MIN_FETCH_INTERVAL,
            max_age: MAX_KEY_AGE,
        }
    }
}

/// Why the provider's set could not be used; logged, never shown to a client.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("cannot reach the JWKS: {0}")]
    Http(#[from] reqwest::Error),
    #[error("the JWKS answered {0}")]
    Status(reqwest::StatusCode),
    #[error("the JWKS is larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    #[error("the JWKS is not a JSON Web Key Set: {0}")]
    NotAKeySet(serde_json::Error),
}

/// A JWKS as served, its keys not yet read.
#[derive(serde::Deserialize)]
struct KeySet {
    keys: Vec<serde_json::Value>,
}

/// A verifying key and the one algorithm it is for.
#[derive(Clone)]
struct Key {
    algorithm: Algorithm,
    decoding: DecodingKey,
}

/// The keys of the last successful fetch.
#[derive(Default)]
struct Cached {
    keys: HashMap<String, Key>,
    fetched_at: Option<Instant>,
}

/// The provider's keys, fetched from `url` and cached by `kid`.
#[derive(Clone)]
pub struct Jwks {
    inner: Arc<Inner>,
}

struct Inner {
    url: Url,
    client: Client,
    refresh: Refresh,
    cached: RwLock<Arc<Cached>>,
    /// When a fetch was last attempted; held while fetching, so fetches never overlap.
    last_attempt: Mutex<Option<Instant>>,
}

impl Jwks {
    /// The keys at `url`, fetched when first needed.
    pub fn new(url: Url, refresh: Refresh) -> Result<Jwks, FetchError> {
        Ok(Jwks {
            inner: Arc::new(Inner {
                client: client(&url)?,
                url,
                refresh,
                cached: RwLock::new(Arc::new(Cached::default())),
                last_attempt: Mutex::new(None),
            }),
        })
    }

    /// The key named `kid` for `algorithm`: an RSA key for RS256, a P-256 key for
    /// ES256, never one of another type (no algorithm confusion). None when the
    /// provider's set has no such key, even after a fetch this call was allowed.
    pub async fn key(&self, kid: &str, algorithm: Algorithm) -> Option<DecodingKey> {
        let cached = self.cached();
        let fresh = cached
            .fetched_at
            .is_some_and(|at| at.elapsed() < self.inner.refresh.max_age);
        let cached = match cached.keys.get(kid) {
            Some(_) if fresh => cached,
            _ => self.refresh(&cached).await,
        };
        cached
            .keys
            .get(kid)
            .filter(|key| key.algorithm == algorithm)
            .map(|key| key.decoding.clone())
    }

    fn cached(&self) -> Arc<Cached> {
        // A poisoned lock still holds the last complete set: it is only ever replaced whole.
        self.inner
            .cached
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The cache after fetching the set again, when no fetch happened since `seen` was
    /// read and the last attempt is at least [`Refresh::min_interval`] ago.
    async fn refresh(&self, seen: &Arc<Cached>) -> Arc<Cached> {
        let mut last_attempt = self.inner.last_attempt.lock().await;
        let current = self.cached();
        if !Arc::ptr_eq(&current, seen) {
            return current;
        }
        if last_attempt.is_some_and(|at| at.elapsed() < self.inner.refresh.min_interval) {
            return current;
        }
        *last_attempt = Some(Instant::now());
        match self.fetch().await {
            Ok(keys) => {
                tracing::info!(keys = keys.len(), url = %self.inner.url, "fetched the JWKS");
                let fetched = Arc::new(Cached {
                    keys,
                    fetched_at: Some(Instant::now()),
                });
                *self
                    .inner
                    .cached
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) = fetched.clone();
                fetched
            }
            Err(error) => {
                tracing::warn!(%error, url = %self.inner.url, "keeping the cached JWKS");
                current
            }
        }
    }

    async fn fetch(&self) -> Result<HashMap<String, Key>, FetchError> {
        let mut response = self.inner.client.get(self.inner.url.clone()).send().await?;
        if !response.status().is_success() {
            return Err(FetchError::Status(response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(FetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        let set: KeySet = serde_json::from_slice(&body).map_err(FetchError::NotAKeySet)?;
        // Each key on its own: a key of a kind this crate cannot read (an encryption
        // key's `alg: RSA-OAEP`, say) leaves the others usable.
        let keys = set
            .keys
            .into_iter()
            .filter_map(|key| serde_json::from_value(key).ok())
            .collect();
        Ok(verifying_keys(&JwkSet { keys }))
    }
}

/// The keys of `set` that verify RS256 or ES256 signatures, by `kid`. A key without a
/// `kid`, for encryption only, of another type (a shared secret, Ed25519, P-384) or
/// whose `alg` says another algorithm is left out.
fn verifying_keys(set: &JwkSet) -> HashMap<String, Key> {
    set.keys
        .iter()
        .filter_map(|jwk| {
            let kid = jwk.common.key_id.clone()?;
            if matches!(&jwk.common.public_key_use, Some(u) if *u != PublicKeyUse::Signature) {
                return None;
            }
            let algorithm = match &jwk.algorithm {
                AlgorithmParameters::RSA(_) => Algorithm::RS256,
                AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => Algorithm::ES256,
                _ => return None,
            };
            let declared = jwk.common.key_algorithm;
            let matches = match algorithm {
                Algorithm::RS256 => declared.is_none_or(|a| a == KeyAlgorithm::RS256),
                _ => declared.is_none_or(|a| a == KeyAlgorithm::ES256),
            };
            let decoding = DecodingKey::from_jwk(jwk).ok().filter(|_| matches)?;
            Some((kid, Key { algorithm, decoding }))
        })
        .collect()
}

/// The client of the provider: timeouts, and redirects followed only on `url`'s own
/// host and port (a JWKS moved elsewhere is a configuration to change, not a hop to take).
fn client(url: &Url) -> Result<Client, reqwest::Error> {
    let origin = (url.host_str().map(str::to_owned), url.port_or_known_default());
    Client::builder()
        .timeout(FETCH_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .redirect(redirect::Policy::custom(move |attempt| {
            let same_origin = (
                attempt.url().host_str().map(str::to_owned),
                attempt.url().port_or_known_default(),
            ) == origin;
            if same_origin && attempt.previous().len() < 3 {
                attempt.follow()
            } else {
                attempt.stop()
            }
        }))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(json: serde_json::Value) -> JwkSet {
        serde_json::from_value(json).expect("a JWKS")
    }

    const N: &str = "sXchDaQebHnPiGvy";

    #[test]
    fn only_signing_keys_of_rs256_and_es256_are_kept_by_kid() {
        let keys = verifying_keys(&set(serde_json::json!({"keys": [
            {"kty": "RSA", "kid": "rsa", "n": N, "e": "AQAB"},
            {"kty": "RSA", "kid": "rsa-sig", "use": "sig", "alg": "RS256", "n": N, "e": "AQAB"},
            {"kty": "RSA", "kid": "rsa-enc", "use": "enc", "n": N, "e": "AQAB"},
            {"kty": "RSA", "kid": "rsa-512", "alg": "RS512", "n": N, "e": "AQAB"},
            {"kty": "RSA", "n": N, "e": "AQAB"},
            {"kty": "oct", "kid": "shared", "k": "c2VjcmV0"},
            {"kty": "EC", "kid": "ec", "crv": "P-256",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
        ]})));

        let mut kept: Vec<(&str, Algorithm)> = keys.iter().map(|(kid, key)| (kid.as_str(), key.algorithm)).collect();
        kept.sort_by_key(|(kid, _)| *kid);

        assert_eq!(
            kept,
            vec![
                ("ec", Algorithm::ES256),
                ("rsa", Algorithm::RS256),
                ("rsa-sig", Algorithm::RS256)
            ]
        );
    }
}
