//! Who is asking: HS256 JWTs with `sub`, `account_id` (the account's global id), `role`
//! and `exp`, checked once per request or WebSocket connection into a [`Viewer`].
use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::ids::{IdCodec, Kind};

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, async_graphql::Enum)]
#[serde(rename_all = "lowercase")]
#[graphql(name = "Role")]
pub enum Role {
    /// A dealer's employee: their own account only.
    Member,
    /// The platform's back office: every account, and the OPS fields.
    Ops,
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
    #[error("the token's account_id is not an account id")]
    BadAccount,
}

/// Mints and checks tokens with the configured secret.
#[derive(Clone)]
pub struct Auth {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ids: IdCodec,
}

impl Auth {
    pub fn new(secret: &str) -> Self {
        Auth {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            ids: IdCodec::new(secret),
        }
    }

    /// The codec of global ids, keyed by the same secret.
    pub fn ids(&self) -> &IdCodec {
        &self.ids
    }

    /// A token for `user_id` acting as `role` for `account_id`, valid for `ttl`.
    pub fn mint(
        &self,
        user_id: &str,
        role: Role,
        account_id: Option<i64>,
        ttl: Duration,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let ttl = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
        let claims = Claims {
            sub: user_id.to_owned(),
            account_id: account_id.map(|id| self.ids.encode(Kind::Account, id)),
            role,
            exp: chrono::Utc::now().timestamp().saturating_add(ttl),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
    }

    /// The viewer of an `Authorization` value `Bearer <token>`.
    pub fn verify_bearer(&self, authorization: Option<&str>) -> Result<Viewer, AuthError> {
        let token = authorization
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or(AuthError::Missing)?;
        self.verify(token)
    }

    /// The viewer of a token: signature, algorithm and expiry checked.
    pub fn verify(&self, token: &str) -> Result<Viewer, AuthError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.leeway = 0;
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)?.claims;
        let account_id = match &claims.account_id {
            Some(id) => Some(self.ids.decode_i64(Kind::Account, id).ok_or(AuthError::BadAccount)?),
            None if claims.role == Role::Member => return Err(AuthError::BadAccount),
            None => None,
        };
        Ok(Viewer {
            user_id: claims.sub,
            role: claims.role,
            account_id,
            // An `exp` past chrono's range is later than any socket will live.
            expires_at: DateTime::from_timestamp(claims.exp, 0).unwrap_or(DateTime::<Utc>::MAX_UTC),
        })
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

    #[test]
    fn a_minted_token_verifies_to_its_viewer() {
        let auth = Auth::new("secret");
        let before = Utc::now().timestamp();
        let token = auth
            .mint("u1", Role::Member, Some(7), Duration::from_secs(60))
            .expect("a token");
        let viewer = auth.verify_bearer(Some(&format!("Bearer {token}"))).expect("valid");
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

    #[test]
    fn the_viewer_expires_at_the_tokens_exp_claim() {
        let auth = Auth::new("secret");
        let claims = Claims {
            sub: "ops".into(),
            account_id: None,
            role: Role::Ops,
            exp: 4_102_444_800,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &auth.encoding).expect("a token");

        let viewer = auth.verify(&token).expect("valid");

        assert_eq!(viewer.expires_at.to_rfc3339(), "2100-01-01T00:00:00+00:00");
    }

    #[test]
    fn a_token_of_another_secret_or_a_member_without_account_is_refused() {
        let token = Auth::new("other")
            .mint("u1", Role::Member, Some(7), Duration::from_secs(60))
            .expect("a token");
        assert!(Auth::new("secret").verify(&token).is_err());
        let auth = Auth::new("secret");
        let no_account = auth
            .mint("u1", Role::Member, None, Duration::from_secs(60))
            .expect("a token");
        assert!(matches!(auth.verify(&no_account), Err(AuthError::BadAccount)));
    }
}
