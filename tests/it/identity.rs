//! Tokens of the platform's identity provider (issue 13): RS256 and ES256 checked
//! against a JWKS served by the test itself on loopback, which counts its requests.
//! Rotation, a flood of unknown kids, the provider down, a wrong issuer or audience,
//! and the algorithm confusions (`alg: none`, HS256 signed with the public key, HS256
//! when only the JWKS is configured) over HTTP and the WebSocket.
use std::time::Duration;

use axum::http::StatusCode;
use chrono::Utc;
use serde_json::{Value, json};
use studio_bff::app::App;
use studio_bff::auth::{Auth, AuthError, Jwks, Refresh, Role};
use studio_bff::clock::Clock;
use studio_bff::config::Config;

use crate::api_support::jwks::{JwksServer, KeyPair, Signer, fixture};
use crate::api_support::ws::{assert_closed_with, connect, send, serve};
use crate::api_support::{NOW, SECRET, TestApp, utc};
use crate::common::TestDb;

const ISSUER: &str = "https://id.platform.example";
const AUDIENCE: &str = "studio-bff";

fn rsa_1() -> KeyPair {
    KeyPair::rsa("jwt-rsa-1.pem", "rsa-1")
}

fn rsa_2() -> KeyPair {
    KeyPair::rsa("jwt-rsa-2.pem", "rsa-2")
}

fn ec_1() -> KeyPair {
    KeyPair::ec("jwt-ec-1.pem", "ec-1")
}

/// An OPS user's claims, valid for an hour, from the right issuer for the right audience.
fn ops_claims() -> Value {
    json!({"sub": "ops-7", "role": "ops", "exp": Utc::now().timestamp() + 3600, "iss": ISSUER, "aud": AUDIENCE})
}

/// RS256 and ES256 from `server`'s keys, fetched as `refresh` allows; ids keyed by
/// [`SECRET`]; issuer and audience required; HS256 with `jwt_secret` when given.
fn provider_auth(server: &JwksServer, refresh: Refresh, jwt_secret: Option<&str>) -> Auth {
    let jwks = Jwks::new(server.url.parse().expect("a URL"), refresh).expect("a JWKS client");
    Auth::with_keys(jwt_secret, SECRET)
        .with_jwks(jwks)
        .with_issuer(Some(ISSUER.into()))
        .with_audience(Some(AUDIENCE.into()))
}

fn every(min_interval_ms: u64, max_age_ms: u64) -> Refresh {
    Refresh {
        min_interval: Duration::from_millis(min_interval_ms),
        max_age: Duration::from_millis(max_age_ms),
    }
}

/// The user and role `auth` reads from `token`, or why it refused it.
async fn who(auth: &Auth, token: &str) -> Result<(String, Role), String> {
    auth.verify(token)
        .await
        .map(|viewer| (viewer.user_id, viewer.role))
        .map_err(|e| e.to_string())
}

fn ops_7() -> Result<(String, Role), String> {
    Ok(("ops-7".into(), Role::Ops))
}

#[tokio::test]
async fn rs256_and_es256_tokens_of_the_providers_keys_are_accepted_and_the_keys_cached() {
    let (rsa, ec) = (rsa_1(), ec_1());
    let server = JwksServer::start(&[&rsa, &ec]).await;
    let auth = provider_auth(&server, every(60_000, 600_000), None);

    assert_eq!(who(&auth, &rsa.sign(&ops_claims())).await, ops_7());
    assert_eq!(who(&auth, &ec.sign(&ops_claims())).await, ops_7());
    assert_eq!(who(&auth, &rsa.sign(&ops_claims())).await, ops_7());

    assert_eq!(
        server.requests(),
        1,
        "one fetch serves every known kid until the set is old"
    );
}

#[tokio::test]
async fn a_key_is_used_only_for_its_own_algorithm() {
    let (rsa, ec) = (rsa_1(), ec_1());
    let server = JwksServer::start(&[&rsa, &ec]).await;
    let auth = provider_auth(&server, every(60_000, 600_000), None);

    // ES256 signed with the EC key but naming the RSA key's kid, and the reverse.
    let es256_naming_rsa = ec.sign_as("rsa-1", &ops_claims());
    let rs256_naming_ec = rsa.sign_as("ec-1", &ops_claims());

    assert_eq!(
        who(&auth, &es256_naming_rsa).await,
        Err("the provider's JWKS has no ES256 key \"rsa-1\"".into())
    );
    assert_eq!(
        who(&auth, &rs256_naming_ec).await,
        Err("the provider's JWKS has no RS256 key \"ec-1\"".into())
    );
}

#[tokio::test]
async fn a_new_key_is_accepted_and_a_removed_one_refused_without_a_restart() {
    let (old, new) = (rsa_1(), rsa_2());
    let server = JwksServer::start(&[&old]).await;
    let auth = provider_auth(&server, every(100, 400), None);
    assert_eq!(who(&auth, &old.sign(&ops_claims())).await, ops_7());

    // The provider publishes a new key: its first token fetches the set again.
    server.serve(&[&old, &new]);
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(who(&auth, &new.sign(&ops_claims())).await, ops_7());
    assert_eq!(server.requests(), 2);

    // Then withdraws the old one: refused once the cached set is older than max_age.
    server.serve(&[&new]);
    assert_eq!(who(&auth, &old.sign(&ops_claims())).await, ops_7(), "still cached");
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(
        who(&auth, &old.sign(&ops_claims())).await,
        Err("the provider's JWKS has no RS256 key \"rsa-1\"".into())
    );
    assert_eq!(who(&auth, &new.sign(&ops_claims())).await, ops_7());
    assert_eq!(server.requests(), 3);
}

#[tokio::test]
async fn a_flood_of_unknown_kids_fetches_at_most_once_per_interval() {
    let key = rsa_1();
    let server = JwksServer::start(&[&key]).await;
    let interval = Duration::from_millis(700);
    let auth = provider_auth(&server, every(700, 600_000), None);
    assert_eq!(who(&auth, &key.sign(&ops_claims())).await, ops_7());
    assert_eq!(server.requests(), 1);

    // Forged kids on a real token's claims and signature: only the header differs, so
    // a flood costs no signing.
    let real = key.sign(&ops_claims());
    let (_, body) = real.split_once('.').expect("a JWT");
    let flood = |round: usize| {
        let tokens: Vec<String> = (0..50)
            .map(|i| {
                let kid = format!("forged-{round}-{i}");
                let header = forged(json!({"alg": "RS256", "kid": kid}), &json!({}), b"");
                format!("{}.{body}", header.split('.').next().expect("a header"))
            })
            .collect();
        let auth = auth.clone();
        async move {
            let attempts: Vec<_> = tokens
                .into_iter()
                .map(|token| {
                    let auth = auth.clone();
                    tokio::spawn(async move { auth.verify(&token).await })
                })
                .collect();
            for attempt in attempts {
                let refused = attempt.await.expect("a verification");
                assert!(matches!(refused, Err(AuthError::UnknownKey(..))), "{refused:?}");
            }
        }
    };

    flood(0).await;
    assert_eq!(server.requests(), 1, "the first fetch was less than an interval ago");
    tokio::time::sleep(interval).await;
    flood(1).await;
    assert_eq!(server.requests(), 2, "one fetch for the whole flood");
    flood(2).await;
    assert_eq!(server.requests(), 2);
    tokio::time::sleep(interval).await;
    flood(3).await;
    assert_eq!(server.requests(), 3);
    assert_eq!(who(&auth, &real).await, ops_7(), "the real key still works");
    assert_eq!(server.requests(), 3);
}

#[tokio::test]
async fn a_provider_that_is_down_leaves_the_cached_keys_in_use() {
    let key = rsa_1();
    let mut server = JwksServer::start(&[&key]).await;
    let auth = provider_auth(&server, every(50, 100), None);
    assert_eq!(who(&auth, &key.sign(&ops_claims())).await, ops_7());
    let stale = || tokio::time::sleep(Duration::from_millis(150));

    server.fail_with(StatusCode::SERVICE_UNAVAILABLE);
    stale().await;
    assert_eq!(who(&auth, &key.sign(&ops_claims())).await, ops_7(), "after a 503");
    assert_eq!(server.requests(), 2);

    server.serve_garbage();
    stale().await;
    assert_eq!(
        who(&auth, &key.sign(&ops_claims())).await,
        ops_7(),
        "after a body that is no JWKS"
    );
    assert_eq!(server.requests(), 3);

    server.go_down().await;
    stale().await;
    assert_eq!(
        who(&auth, &key.sign(&ops_claims())).await,
        ops_7(),
        "with the connection refused"
    );
}

#[tokio::test]
async fn a_redirect_is_followed_on_the_providers_own_host_only() {
    let key = rsa_1();
    let server = JwksServer::start(&[&key]).await;
    let port = server.addr.port();
    let auth = provider_auth(&server, every(100, 600_000), None);

    server.redirect_to(&format!("http://localhost:{port}/keys.json"));
    assert!(who(&auth, &key.sign(&ops_claims())).await.is_err());
    assert_eq!(server.requests(), 1, "the other host was not asked");

    tokio::time::sleep(Duration::from_millis(150)).await;
    server.redirect_to(&format!("http://127.0.0.1:{port}/keys.json"));
    assert_eq!(who(&auth, &key.sign(&ops_claims())).await, ops_7());
    assert_eq!(server.requests(), 3);
}

#[tokio::test]
async fn a_wrong_or_missing_issuer_or_audience_is_refused() {
    let key = rsa_1();
    let server = JwksServer::start(&[&key]).await;
    let auth = provider_auth(&server, every(60_000, 600_000), None);
    let exp = Utc::now().timestamp() + 3600;
    let with = |iss: Value, aud: Value| {
        let mut claims = json!({"sub": "ops-7", "role": "ops", "exp": exp, "iss": iss, "aud": aud});
        let fields = claims.as_object_mut().expect("an object");
        fields.retain(|_, value| !value.is_null());
        key.sign(&claims)
    };

    assert_eq!(
        who(&auth, &with(json!(ISSUER), json!([AUDIENCE, "other"]))).await,
        ops_7()
    );
    for (token, why) in [
        (
            with(json!("https://evil.example"), json!(AUDIENCE)),
            "invalid token: InvalidIssuer",
        ),
        (
            with(json!(ISSUER), json!("another-service")),
            "invalid token: InvalidAudience",
        ),
        (
            with(Value::Null, json!(AUDIENCE)),
            "invalid token: Missing required claim: iss",
        ),
        (
            with(json!(ISSUER), Value::Null),
            "invalid token: Missing required claim: aud",
        ),
    ] {
        assert_eq!(who(&auth, &token).await, Err(why.into()));
    }
}

/// `header` and `claims` with `signature`, as a forger would write them.
fn forged(header: Value, claims: &Value, signature: &[u8]) -> String {
    use base64::Engine;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    format!(
        "{}.{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes()),
        b64(signature)
    )
}

/// An HS256 token of `claims` naming `kid`, signed with `secret`.
fn hs256_with(secret: &[u8], kid: Option<&str>, claims: &Value) -> String {
    let header = jsonwebtoken::Header {
        kid: kid.map(str::to_owned),
        ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256)
    };
    jsonwebtoken::encode(&header, claims, &jsonwebtoken::EncodingKey::from_secret(secret)).expect("a token")
}

#[tokio::test]
async fn alg_none_and_hs256_signed_with_the_public_key_are_refused() {
    let key = rsa_1();
    let server = JwksServer::start(&[&key]).await;
    // HS256 is configured too, with the real secret: the confusion must still fail.
    let auth = provider_auth(&server, every(60_000, 600_000), Some(SECRET));
    let public_pem = fixture("jwt-rsa-1.pub.pem");
    let claims = ops_claims();
    let jwk = serde_json::to_value(&key.jwk).expect("a JWK");

    let mut refused = vec![
        forged(json!({"alg": "none", "kid": "rsa-1"}), &claims, b""),
        forged(json!({"alg": "none"}), &claims, b""),
    ];
    for kid in [Some("rsa-1"), None] {
        refused.push(hs256_with(public_pem.as_bytes(), kid, &claims));
        refused.push(hs256_with(public_pem.trim().as_bytes(), kid, &claims));
        refused.push(hs256_with(jwk.to_string().as_bytes(), kid, &claims));
        refused.push(hs256_with(jwk["n"].as_str().expect("n").as_bytes(), kid, &claims));
    }

    for token in &refused {
        assert!(auth.verify(token).await.is_err(), "accepted: {token}");
    }
    assert_eq!(
        who(&auth, &hs256_with(SECRET.as_bytes(), None, &claims)).await,
        ops_7(),
        "the real secret still works"
    );
}

on_both_databases! {
    async fn hs256_is_refused_over_http_and_the_websocket_when_only_the_jwks_is_configured(db) {
        let key = rsa_1();
        let server = JwksServer::start(&[&key]).await;
        let jwks = Jwks::new(server.url.parse().expect("a URL"), Refresh::default()).expect("a JWKS client");
        let app = TestApp::with_identity(
            &db,
            Config::default(),
            Auth::with_keys(None, SECRET).with_jwks(jwks),
            Signer::Key(Box::new(key.clone())),
        )
        .await;
        let hs256 = Signer::Secret(SECRET.into()).sign(&ops_claims());
        let viewer = json!({"query": "{ viewer { userId role } }"});

        let accepted = app.post(Some(&app.ops()), viewer.clone()).await;
        let refused = app.post(Some(&hs256), viewer).await;

        assert_eq!(
            accepted,
            (StatusCode::OK, json!({"data": {"viewer": {"userId": "ops-1", "role": "OPS"}}}))
        );
        assert_eq!(
            refused,
            (
                StatusCode::UNAUTHORIZED,
                json!({"data": null, "errors": [{
                    "message": "A valid bearer token is required.",
                    "extensions": {"code": "UNAUTHENTICATED"},
                }]})
            )
        );
        let addr = serve(&app).await;
        for protocol in ["graphql-transport-ws", "graphql-ws"] {
            let mut socket = connect(addr, protocol).await;
            send(&mut socket, json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {hs256}")}})).await;
            assert_closed_with(&mut socket, 4403, "Forbidden").await;
        }
    }
}

#[tokio::test]
async fn a_service_configured_with_the_jwks_and_an_id_secret_takes_the_providers_tokens() {
    let db = TestDb::sqlite().await;
    let key = ec_1();
    let server = JwksServer::start(&[&key]).await;
    let config = Config {
        addr: "127.0.0.1:0".parse().expect("an address"),
        database_url: Some(db.url.as_str().into()),
        listen_database_url: db.listen_database_url(),
        id_secret: Some(SECRET.into()),
        jwt_jwks_url: Some(server.url.clone()),
        jwt_issuer: Some(ISSUER.into()),
        jwt_audience: Some(AUDIENCE.into()),
        ..Config::default()
    };
    let started = App::build_with(config, Clock::manual_at(utc(NOW)))
        .await
        .expect("the service starts without a jwt_secret");
    let app = TestApp {
        signer: Signer::Key(Box::new(key.clone())),
        ..TestApp::of(&started)
    };
    let viewer = json!({"query": "{ viewer { userId role } }"});

    let provider_token = app.post(Some(&key.sign(&ops_claims())), viewer.clone()).await;
    let hs256_token = app
        .post(Some(&Signer::Secret(SECRET.into()).sign(&ops_claims())), viewer)
        .await;

    assert_eq!(
        provider_token,
        (
            StatusCode::OK,
            json!({"data": {"viewer": {"userId": "ops-7", "role": "OPS"}}})
        )
    );
    assert_eq!(hs256_token.0, StatusCode::UNAUTHORIZED);
    assert!(
        matches!(
            started.auth().mint("x", Role::Ops, None, Duration::from_secs(60)),
            Err(AuthError::CannotSign)
        ),
        "without jwt_secret the service signs nothing"
    );
}
