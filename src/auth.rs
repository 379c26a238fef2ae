//! Who is asking: JWTs with `sub`, `account_id` (the account's global id), `role`
//! and `exp`, checked once per request or WebSocket connection into a [`Viewer`].
//!
//! Each algorithm is accepted only when configured, with its own kind of key: HS256
//! with `jwt_secret`, RS256 and ES256 with an RSA or P-256 key of the identity
//! provider's JWKS (`jwt_jwks_url`, [`jwks`]) named by the token's `kid`. A token
//! for any other algorithm (`none` included), or for one that is not configured, is
//! refused, so an HS256 token "signed" with the provider's public key is not a way in.
//! `jwt_issuer` and `jwt_audience`, when set, are required of every token.
//!
//! A client sends the same token with every request until it expires, so a verified
//! token is remembered ([`Verified`]) and its signature and claims are not checked again
//! on each request: it is used only before its `exp`, and a provider's token only while
//! the provider's set still holds its key.
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use lru::LruCache;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::demo::Keys;
use crate::ids::{IdCodec, Kind};

pub mod jwks;

pub use jwks::{Jwks, Refresh};

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, async_graphql::Enum)]
#[serde(rename_all = "lowercase")]
#[graphql(name = "Role")]
pub enum Role {
    /// A dealer's employee: their own account only.
    Member,
    /// The platform's back office: every account, and the OPS fields.
    Ops,
    /// The render service: no account; the public fields only, for now.
    Renderer,
}

/// The claims of a token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    pub role: Role,
    pub exp: i64,
}

/// The claims of a token this service signs: the issuer and audience it requires too.
#[derive(Serialize)]
struct Minted<'a> {
    #[serde(flatten)]
    claims: Claims,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'a str>,
}

/// The signed-in user of one request or connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    pub user_id: String,
    pub role: Role,
    /// The account the user acts for; always set for a member.
    pub account_id: Option<i64>,
    /// When the token stops being valid: a WebSocket outliving it is closed then.
    pub expires_at: DateTime<Utc>,
}

/// Why a token was not accepted; the client only learns that it was not.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no bearer token")]
    Missing,
    #[error("invalid token: {0}")]
    Invalid(#[from] jsonwebtoken::errors::Error),
    #[error("the token's algorithm {0:?} is not configured")]
    Algorithm(Algorithm),
    #[error("the token names no key (kid)")]
    NoKeyId,
    #[error("the provider's JWKS has no {1:?} key {0:?}")]
    UnknownKey(String, Algorithm),
    #[error("the token's account_id is not an account id")]
    BadAccount,
    #[error("no jwt_secret is configured: this service signs no tokens")]
    CannotSign,
}

/// HS256 with the configured secret.
#[derive(Clone)]
struct Hs256 {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

/// How many verified tokens [`Auth`] remembers, the least recently used forgotten
/// first: a few MiB at most, and more than the users active on one instance at once.
const REMEMBERED_TOKENS: NonZeroUsize = NonZeroUsize::new(10_000).expect("not zero");

/// A token that passed every check, by its text.
#[derive(Clone)]
struct Verified {
    viewer: Viewer,
    /// The provider's key that signed it, by `kid`; none for HS256.
    key: Option<(String, Algorithm)>,
}

/// Checks tokens as configured, and mints HS256 ones when a secret is.
#[derive(Clone)]
pub struct Auth {
    hs256: Option<Hs256>,
    jwks: Option<Jwks>,
    issuer: Option<String>,
    audience: Option<String>,
    ids: IdCodec,
    /// Shared by every clone.
    verified: Arc<Mutex<LruCache<Box<str>, Verified>>>,
}

impl Auth {
    /// HS256 tokens of `secret`, and global ids keyed by it.
    pub fn new(secret: &str) -> Self {
        Self::with_keys(Some(secret), secret)
    }

    /// HS256 tokens of `jwt_secret` when there is one, and global ids keyed by
    /// `id_secret`.
    pub fn with_keys(jwt_secret: Option<&str>, id_secret: &str) -> Self {
        Auth {
            hs256: jwt_secret.map(|secret| Hs256 {
                encoding: EncodingKey::from_secret(secret.as_bytes()),
                decoding: DecodingKey::from_secret(secret.as_bytes()),
            }),
            jwks: None,
            issuer: None,
            audience: None,
            ids: IdCodec::new(id_secret),
            verified: Arc::new(Mutex::new(LruCache::new(REMEMBERED_TOKENS))),
        }
    }

    /// RS256 and ES256 tokens too, signed with the keys of `jwks`.
    pub fn with_jwks(mut self, jwks: Jwks) -> Self {
        self.jwks = Some(jwks);
        self
    }

    /// Every token must carry `iss` = `issuer` (when given).
    pub fn with_issuer(mut self, issuer: Option<String>) -> Self {
        self.issuer = issuer;
        self
    }

    /// Every token's `aud` must name `audience` (when given).
    pub fn with_audience(mut self, audience: Option<String>) -> Self {
        self.audience = audience;
        self
    }

    /// The checks `config` asks for, with the secrets [`crate::demo::keys`] chose.
    pub fn configured(config: &Config, keys: &Keys) -> Result<Self, String> {
        let mut auth = Self::with_keys(keys.jwt_secret.as_ref().map(|s| s.expose()), keys.id_secret.expose())
            .with_issuer(config.jwt_issuer.clone())
            .with_audience(config.jwt_audience.clone());
        if let Some(url) = &config.jwt_jwks_url {
            let url = url
                .parse()
                .map_err(|e| format!("configuration key `jwt_jwks_url`: not a URL ({e})"))?;
            let jwks = Jwks::new(url, Refresh::default()).map_err(|e| format!("cannot set up the JWKS client: {e}"))?;
            auth = auth.with_jwks(jwks);
        }
        Ok(auth)
    }

    /// The codec of global ids, keyed by the id secret.
    pub fn ids(&self) -> &IdCodec {
        &self.ids
    }

    /// An HS256 token for `user_id` acting as `role` for `account_id`, valid for
    /// `ttl`, with the issuer and audience this service requires.
    pub fn mint(&self, user_id: &str, role: Role, account_id: Option<i64>, ttl: Duration) -> Result<String, AuthError> {
        let hs256 = self.hs256.as_ref().ok_or(AuthError::CannotSign)?;
        let ttl = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
        let claims = Claims {
            sub: user_id.to_owned(),
            account_id: account_id.map(|id| self.ids.encode(Kind::Account, id)),
            role,
            exp: chrono::Utc::now().timestamp().saturating_add(ttl),
        };
        let minted = Minted {
            claims,
            iss: self.issuer.as_deref(),
            aud: self.audience.as_deref(),
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &minted,
            &hs256.encoding,
        )?)
    }

    /// The viewer of an `Authorization` value `Bearer <token>`.
    pub async fn verify_bearer(&self, authorization: Option<&str>) -> Result<Viewer, AuthError> {
        let token = authorization
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or(AuthError::Missing)?;
        self.verify(token).await
    }

    /// The viewer of a token: algorithm, key, signature, expiry, issuer and audience
    /// checked, or remembered from an earlier check while it is still valid. Awaits a
    /// fetch of the provider's keys when the token names one not cached ([`Jwks::key`]).
    pub async fn verify(&self, token: &str) -> Result<Viewer, AuthError> {
        if let Some(verified) = self.remembered(token) {
            if self.still_holds_key(&verified).await {
                return Ok(verified.viewer);
            }
            self.remembers().pop(token);
        }
        let verified = self.check(token).await?;
        self.remembers().put(token.into(), verified.clone());
        Ok(verified.viewer)
    }

    /// Whether the provider's set, refreshed as for any token, still holds the key that
    /// signed `verified`: a withdrawn key takes its tokens with it. Always for HS256.
    async fn still_holds_key(&self, verified: &Verified) -> bool {
        match (&verified.key, &self.jwks) {
            (Some((kid, algorithm)), Some(jwks)) => jwks.key(kid, *algorithm).await.is_some(),
            _ => true,
        }
    }

    /// `token` as verified before, unless it has expired since.
    fn remembered(&self, token: &str) -> Option<Verified> {
        let mut remembered = self.remembers();
        let verified = remembered.get(token)?;
        if Utc::now() < verified.viewer.expires_at {
            return Some(verified.clone());
        }
        remembered.pop(token);
        None
    }

    fn remembers(&self) -> std::sync::MutexGuard<'_, LruCache<Box<str>, Verified>> {
        // A poisoned lock holds whole entries: each is put or popped in one call.
        self.verified.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every check of `token`, from its header to its account id.
    async fn check(&self, token: &str) -> Result<Verified, AuthError> {
        let header = jsonwebtoken::decode_header(token)?;
        let (decoding, key) = match (header.alg, &self.hs256, &self.jwks) {
            (Algorithm::HS256, Some(hs256), _) => (hs256.decoding.clone(), None),
            (Algorithm::RS256 | Algorithm::ES256, _, Some(jwks)) => {
                let kid = header.kid.ok_or(AuthError::NoKeyId)?;
                match jwks.key(&kid, header.alg).await {
                    Some(decoding) => (decoding, Some((kid, header.alg))),
                    None => return Err(AuthError::UnknownKey(kid, header.alg)),
                }
            }
            (other, _, _) => return Err(AuthError::Algorithm(other)),
        };
        let claims = jsonwebtoken::decode::<Claims>(token, &decoding, &self.validation(header.alg))?.claims;
        let account_id = match &claims.account_id {
            Some(id) => Some(self.ids.decode_i64(Kind::Account, id).ok_or(AuthError::BadAccount)?),
            None if claims.role == Role::Member => return Err(AuthError::BadAccount),
            None => None,
        };
        let viewer = Viewer {
            user_id: claims.sub,
            role: claims.role,
            account_id,
            // An `exp` past chrono's range is later than any socket will live.
            expires_at: DateTime::from_timestamp(claims.exp, 0).unwrap_or(DateTime::<Utc>::MAX_UTC),
        };
        Ok(Verified { viewer, key })
    }

    /// What a token of `algorithm` must hold: `exp` (no leeway) and `sub`, and the
    /// configured issuer and audience.
    fn validation(&self, algorithm: Algorithm) -> Validation {
        let mut validation = Validation::new(algorithm);
        validation.leeway = 0;
        let mut required = vec!["exp", "sub"];
        if let Some(issuer) = &self.issuer {
            validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        match &self.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                required.push("aud");
            }
            // A provider's tokens name some audience; without one configured there is
            // nothing to compare it with.
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        validation
    }
}

/// A lifetime such as `90s`, `30m`, `1h` or `7d`.
pub fn parse_ttl(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a lifetime such as 30m, 1h or 7d"))?;
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" | "" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{text:?}: the unit must be s, m, h or d")),
    };
    number
        .checked_mul(unit_secs)
        .filter(|secs| *secs > 0)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{text:?} is not a positive lifetime"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lifetime_reads_seconds_minutes_hours_and_days() {
        assert_eq!(parse_ttl("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_ttl("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_ttl("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_ttl("7d"), Ok(Duration::from_secs(604_800)));
        assert!(parse_ttl("0h").is_err());
        assert!(parse_ttl("1w").is_err());
    }

    #[tokio::test]
    async fn a_minted_token_verifies_to_its_viewer() {
        let auth = Auth::new("secret");
        let before = Utc::now().timestamp();
        let token = auth
            .mint("u1", Role::Member, Some(7), Duration::from_secs(60))
            .expect("a token");
        let viewer = auth
            .verify_bearer(Some(&format!("Bearer {token}")))
            .await
            .expect("valid");
        let after = Utc::now().timestamp();
        assert_eq!(
            viewer,
            Viewer {
                user_id: "u1".into(),
                role: Role::Member,
                account_id: Some(7),
                expires_at: viewer.expires_at,
            }
        );
        assert!((before + 60..=after + 60).contains(&viewer.expires_at.timestamp()));
    }

    fn hs256(secret: &str, claims: &serde_json::Value) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .expect("a token")
    }

    #[tokio::test]
    async fn the_viewer_expires_at_the_tokens_exp_claim() {
        let auth = Auth::new("secret");
        let token = hs256(
            "secret",
            &serde_json::json!({"sub": "ops", "role": "ops", "exp": 4_102_444_800_i64}),
        );

        let viewer = auth.verify(&token).await.expect("valid");

        assert_eq!(viewer.expires_at.to_rfc3339(), "2100-01-01T00:00:00+00:00");
    }

    #[tokio::test]
    async fn a_verified_token_is_remembered_until_its_exp_and_a_refused_one_never() {
        let auth = Auth::new("secret");
        let exp = Utc::now().timestamp() + 1;
        let token = hs256("secret", &serde_json::json!({"sub": "ops", "role": "ops", "exp": exp}));
        let forged = hs256("other", &serde_json::json!({"sub": "ops", "role": "ops", "exp": exp}));

        assert_eq!(auth.verify(&token).await.expect("valid").user_id, "ops");
        assert!(matches!(auth.verify(&forged).await, Err(AuthError::Invalid(_))));
        assert_eq!(auth.clone().verify(&token).await.expect("remembered").user_id, "ops");
        assert_eq!(auth.remembers().len(), 1, "the valid token, shared by the clone");

        while Utc::now().timestamp() <= exp {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let expired = auth.verify(&token).await;
        assert!(
            matches!(&expired, Err(AuthError::Invalid(e)) if *e.kind() == jsonwebtoken::errors::ErrorKind::ExpiredSignature),
            "{expired:?}"
        );
        assert_eq!(auth.remembers().len(), 0);
    }

    #[tokio::test]
    async fn a_token_of_another_secret_or_a_member_without_account_is_refused() {
        let token = Auth::new("other")
            .mint("u1", Role::Member, Some(7), Duration::from_secs(60))
            .expect("a token");
        assert!(matches!(
            Auth::new("secret").verify(&token).await,
            Err(AuthError::Invalid(_))
        ));
        let auth = Auth::new("secret");
        let no_account = auth
            .mint("u1", Role::Member, None, Duration::from_secs(60))
            .expect("a token");
        assert!(matches!(auth.verify(&no_account).await, Err(AuthError::BadAccount)));
    }

    #[tokio::test]
    async fn a_renderer_token_has_the_renderer_role_and_no_account() {
        let auth = Auth::new("secret");
        let token = auth
            .mint("render-1", Role::Renderer, None, Duration::from_secs(60))
            .expect("a token");

        let viewer = auth.verify(&token).await.expect("valid");

        assert_eq!(
            (viewer.user_id.as_str(), viewer.role, viewer.account_id),
            ("render-1", Role::Renderer, None)
        );
    }

    /// A token of `header` and `claims` with `signature` as its third part.
    fn forged(header: serde_json::Value, claims: serde_json::Value, signature: &str) -> String {
        use base64::Engine;
        let encode =
            |json: serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json.to_string());
        format!("{}.{}.{signature}", encode(header), encode(claims))
    }

    #[tokio::test]
    async fn an_unsigned_token_with_alg_none_is_refused() {
        let auth = Auth::new("secret");
        for alg in ["none", "None", "NONE"] {
            let token = forged(
                serde_json::json!({"alg": alg, "typ": "JWT"}),
                serde_json::json!({"sub": "ops", "role": "ops", "exp": 4_102_444_800_i64}),
                "",
            );

            assert!(matches!(auth.verify(&token).await, Err(AuthError::Invalid(_))), "{alg}");
        }
    }

    #[tokio::test]
    async fn hs256_is_refused_without_a_jwt_secret() {
        let auth = Auth::with_keys(None, "id secret");
        let token = hs256(
            "id secret",
            &serde_json::json!({"sub": "ops", "role": "ops", "exp": 4_102_444_800_i64}),
        );

        assert!(matches!(
            auth.verify(&token).await,
            Err(AuthError::Algorithm(Algorithm::HS256))
        ));
        assert!(matches!(
            auth.mint("ops", Role::Ops, None, Duration::from_secs(60)),
            Err(AuthError::CannotSign)
        ));
    }

    #[tokio::test]
    async fn rs256_is_refused_without_a_jwks() {
        let auth = Auth::new("secret");
        let token = forged(
            serde_json::json!({"alg": "RS256", "kid": "k1"}),
            serde_json::json!({"sub": "ops", "role": "ops", "exp": 4_102_444_800_i64}),
            "c2ln",
        );

        assert!(matches!(
            auth.verify(&token).await,
            Err(AuthError::Algorithm(Algorithm::RS256))
        ));
    }

    #[tokio::test]
    async fn issuer_and_audience_when_configured_are_required_of_hs256_tokens_too() {
        let auth = Auth::new("secret")
            .with_issuer(Some("https://id.example".into()))
            .with_audience(Some("studio-bff".into()));
        let exp = 4_102_444_800_i64;
        let token = |claims: serde_json::Value| hs256("secret", &claims);

        let minted = auth
            .mint("ops", Role::Ops, None, Duration::from_secs(60))
            .expect("a token");
        let right = token(serde_json::json!({"sub": "o", "role": "ops", "exp": exp,
            "iss": "https://id.example", "aud": ["other", "studio-bff"]}));
        let wrong_issuer = token(serde_json::json!({"sub": "o", "role": "ops", "exp": exp,
            "iss": "https://evil.example", "aud": "studio-bff"}));
        let wrong_audience = token(serde_json::json!({"sub": "o", "role": "ops", "exp": exp,
            "iss": "https://id.example", "aud": "other"}));
        let neither = token(serde_json::json!({"sub": "o", "role": "ops", "exp": exp}));

        assert!(auth.verify(&minted).await.is_ok());
        assert!(auth.verify(&right).await.is_ok());
        for refused in [wrong_issuer, wrong_audience, neither] {
            assert!(matches!(auth.verify(&refused).await, Err(AuthError::Invalid(_))));
        }
    }

    #[tokio::test]
    async fn without_a_configured_audience_a_tokens_audience_is_not_compared() {
        let auth = Auth::new("secret");
        let token = hs256(
            "secret",
            &serde_json::json!({"sub": "o", "role": "ops", "exp": 4_102_444_800_i64, "aud": "anything"}),
        );

        assert!(auth.verify(&token).await.is_ok());
    }
}
