//! Front ends on other origins (`cors_origins`): the exact CORS headers of `POST
//! /graphql` for an origin of the list and none for any other, the WebSocket's `Origin`
//! check before the upgrade, and the setting's forms. HTTP headers only, so SQLite only.
#![allow(clippy::result_large_err)]

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use figment::Jail;
use serde_json::json;
use studio_bff::config::Config;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tower::ServiceExt;

use crate::api_support::TestApp;
use crate::api_support::ws::Server;
use crate::common::TestDb;

const STUDIO: &str = "https://studio.example.com";
const BILLING: &str = "http://127.0.0.1:5173";
const STRANGER: &str = "https://evil.example";

fn with_origins() -> Config {
    Config {
        cors_origins: vec![STUDIO.into(), BILLING.into()],
        ..Config::default()
    }
}

/// The headers of `request`'s answer, sorted by name, that name CORS or `Vary`.
async fn cors_headers(app: &TestApp, request: Request<Body>) -> (StatusCode, Vec<(String, String)>) {
    let response = app.router.clone().oneshot(request).await.expect("an answer");
    let mut headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .filter(|(name, _)| name.as_str().starts_with("access-control-") || *name == header::VARY)
        .map(|(name, value)| (name.to_string(), value.to_str().expect("text").to_owned()))
        .collect();
    headers.sort();
    (response.status(), headers)
}

fn preflight(origin: &str) -> Request<Body> {
    Request::builder()
        .method(Method::OPTIONS)
        .uri("/graphql")
        .header(header::ORIGIN, origin)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization,content-type")
        .body(Body::empty())
        .expect("a request")
}

fn post(origin: &str, token: &str) -> Request<Body> {
    Request::post("/graphql")
        .header(header::ORIGIN, origin)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::from(json!({"query": "{ viewer { role } }"}).to_string()))
        .expect("a request")
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect()
}

const VARY: (&str, &str) = (
    "vary",
    "origin, access-control-request-method, access-control-request-headers",
);

#[tokio::test]
async fn a_preflight_from_an_origin_of_the_list_allows_post_with_authorization_and_json() {
    let db = TestDb::sqlite().await;
    let app = TestApp::start(&db, with_origins()).await;

    for origin in [STUDIO, BILLING] {
        let answer = cors_headers(&app, preflight(origin)).await;

        assert_eq!(
            answer,
            (
                StatusCode::OK,
                pairs(&[
                    ("access-control-allow-headers", "authorization,content-type"),
                    ("access-control-allow-methods", "POST"),
                    ("access-control-allow-origin", origin),
                    ("access-control-max-age", "600"),
                    VARY,
                ])
            ),
            "{origin}"
        );
    }
}

#[tokio::test]
async fn an_answer_to_an_origin_of_the_list_names_that_origin() {
    let db = TestDb::sqlite().await;
    let app = TestApp::start(&db, with_origins()).await;
    let token = app.ops();

    let answer = cors_headers(&app, post(STUDIO, &token)).await;
    let (status, body) = app.send(post(STUDIO, &token)).await;

    assert_eq!(
        answer,
        (StatusCode::OK, pairs(&[("access-control-allow-origin", STUDIO), VARY]))
    );
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({"data": {"viewer": {"role": "OPS"}}}))
    );
}

#[tokio::test]
async fn a_refusal_to_an_origin_of_the_list_is_readable_there_too() {
    let db = TestDb::sqlite().await;
    let app = TestApp::start(&db, with_origins()).await;

    let answer = cors_headers(&app, post(STUDIO, "not a token")).await;

    assert_eq!(
        answer,
        (
            StatusCode::UNAUTHORIZED,
            pairs(&[("access-control-allow-origin", STUDIO), VARY])
        )
    );
}

#[tokio::test]
async fn any_other_origin_gets_no_cors_header() {
    let db = TestDb::sqlite().await;
    for config in [with_origins(), Config::default()] {
        let app = TestApp::start(&db, config).await;
        let token = app.ops();

        let preflight = cors_headers(&app, preflight(STRANGER)).await;
        let answer = cors_headers(&app, post(STRANGER, &token)).await;
        // An origin differing only in its port is another origin.
        let port = cors_headers(&app, post("http://127.0.0.1:5174", &token)).await;

        assert_eq!(preflight, (StatusCode::OK, pairs(&[VARY])));
        assert_eq!(answer, (StatusCode::OK, pairs(&[VARY])));
        assert_eq!(port, (StatusCode::OK, pairs(&[VARY])));
    }
}

/// The status of a WebSocket upgrade of `/graphql/ws` on `server` with `headers`.
async fn upgrade_status(server: &Server, headers: &[(header::HeaderName, String)]) -> u16 {
    let mut request = format!("ws://{}/graphql/ws", server.addr)
        .into_client_request()
        .expect("a request");
    let sent: &mut HeaderMap = request.headers_mut();
    sent.insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().expect("a header"),
    );
    for (name, value) in headers {
        sent.insert(name.clone(), value.parse().expect("a header"));
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((_, response)) => response.status().as_u16(),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("the upgrade failed without an answer: {other}"),
    }
}

#[tokio::test]
async fn a_websocket_from_another_origin_is_refused_before_the_upgrade() {
    let server = Server::with(with_origins()).await;
    let own = format!("http://{}", server.addr);

    let no_origin = upgrade_status(&server, &[]).await;
    let listed = upgrade_status(&server, &[(header::ORIGIN, STUDIO.into())]).await;
    let same_origin = upgrade_status(&server, &[(header::ORIGIN, own)]).await;
    let stranger = upgrade_status(&server, &[(header::ORIGIN, STRANGER.into())]).await;
    let other_port = upgrade_status(&server, &[(header::ORIGIN, "http://127.0.0.1:5174".into())]).await;
    let opaque = upgrade_status(&server, &[(header::ORIGIN, "null".into())]).await;

    assert_eq!(
        (no_origin, listed, same_origin, stranger, other_port, opaque),
        (101, 101, 101, 403, 403, 403)
    );
}

#[tokio::test]
async fn without_cors_origins_a_websocket_is_taken_only_from_its_own_origin() {
    let server = Server::start().await;
    let own = format!("http://{}", server.addr);

    let same_origin = upgrade_status(&server, &[(header::ORIGIN, own)]).await;
    let studio = upgrade_status(&server, &[(header::ORIGIN, STUDIO.into())]).await;

    assert_eq!((same_origin, studio), (101, 403));
}

#[test]
fn cors_origins_is_a_list_in_a_file_and_commas_in_the_environment() {
    Jail::expect_with(|jail| {
        jail.create_file("studio.toml", r#"cors_origins = ["https://studio.example.com"]"#)?;
        jail.set_env("STUDIO_CONFIG", "studio.toml");
        assert_eq!(Config::load().expect("valid").cors_origins, vec![STUDIO]);

        jail.set_env(
            "STUDIO_CORS_ORIGINS",
            "https://studio.example.com, http://127.0.0.1:5173,",
        );
        assert_eq!(Config::load().expect("valid").cors_origins, vec![STUDIO, BILLING]);

        jail.set_env("STUDIO_CORS_ORIGINS", "");
        assert_eq!(Config::load().expect("valid").cors_origins, Vec::<String>::new());
        Ok(())
    });
}

#[test]
fn an_origin_not_written_as_browsers_send_it_stops_the_start() {
    for (value, message) in [
        (
            "https://studio.example.com/",
            "configuration key `cors_origins`: \"https://studio.example.com/\" is not an origin as browsers send it: scheme://host[:port] such as https://studio.example.com, lowercase, with no path and no default port",
        ),
        (
            "https://studio.example.com,*",
            "configuration key `cors_origins`: \"*\" is not an origin as browsers send it: scheme://host[:port] such as https://studio.example.com, lowercase, with no path and no default port",
        ),
    ] {
        Jail::expect_with(|jail| {
            jail.set_env("STUDIO_CORS_ORIGINS", value);
            assert_eq!(Config::load().expect_err("invalid").to_string(), message);
            Ok(())
        });
    }
    Jail::expect_with(|jail| {
        jail.create_file("studio.toml", "cors_origins = 5")?;
        jail.set_env("STUDIO_CONFIG", "studio.toml");
        assert_eq!(
            Config::load().expect_err("invalid").to_string(),
            "configuration key `cors_origins` = 5 in studio.toml: must be a list of origins such as [\"https://studio.example.com\"] (in the environment: separated by commas)"
        );
        Ok(())
    });
}
