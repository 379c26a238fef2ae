//! GraphiQL, served by the binary itself: the page (`graphiql/page.html`, started by
//! `graphiql/start.js`) and the pinned browser builds it loads, vendored in
//! `assets/graphiql/` (its README names the npm packages, versions and licences). The
//! page loads nothing from another host, so it works offline; its Content Security
//! Policy says so to the browser as well.
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// A file of the page, served as `/graphiql/<name>`.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    cache_control: &'static str,
    body: &'static [u8],
}

/// The vendored files carry their version in their name, so a name never serves
/// another content and a browser may keep it a year.
const FOREVER: &str = "public, max-age=31536000, immutable";
/// The start script changes with the service under one name: asked again each time.
const REVALIDATE: &str = "no-cache";
const JS: &str = "text/javascript; charset=utf-8";

const ASSETS: [Asset; 5] = [
    Asset {
        name: "graphiql-4.1.2.min.js",
        content_type: JS,
        cache_control: FOREVER,
        body: include_bytes!("../assets/graphiql/graphiql.min.js"),
    },
    Asset {
        name: "graphiql-4.1.2.min.css",
        content_type: "text/css; charset=utf-8",
        cache_control: FOREVER,
        body: include_bytes!("../assets/graphiql/graphiql.min.css"),
    },
    Asset {
        name: "react-18.3.1.production.min.js",
        content_type: JS,
        cache_control: FOREVER,
        body: include_bytes!("../assets/graphiql/react.production.min.js"),
    },
    Asset {
        name: "react-dom-18.3.1.production.min.js",
        content_type: JS,
        cache_control: FOREVER,
        body: include_bytes!("../assets/graphiql/react-dom.production.min.js"),
    },
    Asset {
        name: "start.js",
        content_type: JS,
        cache_control: REVALIDATE,
        body: include_bytes!("graphiql/start.js"),
    },
];

const PAGE: &str = include_str!("graphiql/page.html");

/// Scripts and styles from the service only (GraphiQL sets inline styles), fonts and
/// icons from `data:` URLs (GraphiQL's CSS embeds its fonts), requests and WebSockets
/// to the service only.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; font-src data:; img-src 'self' data:; connect-src 'self'; \
    base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// What the page's start script reads.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Settings<'a> {
    endpoint: &'a str,
    subscription_endpoint: &'a str,
    /// The Headers tab's text when the page opens; none leaves it empty.
    headers: Option<String>,
    /// The query editor's text when the browser has no tabs stored.
    default_query: &'a str,
}

const WITH_TOKEN: &str = "\
# studio-bff. The Headers tab below holds a member
# token of the demo account, valid for a day from
# the service's start. Every request sends it, and a
# subscription's WebSocket too. Change it to act as
# someone else.

query HeaderBalanceInitial {
  viewer {
    account {
      name
      balance { available }
    }
  }
}
";

const WITHOUT_TOKEN: &str = "\
# studio-bff. Every operation needs a token: open
# the Headers tab below and write
#   {\"Authorization\": \"Bearer <token>\"}
# Mint one with `studio-bff token --role ops`, or
# `studio-bff token --account <account id>`.
# The schema (Docs, completion) loads without one.

{
  viewer {
    role
  }
}
";

/// GraphiQL's page, with `token` in its Headers tab when there is one.
pub fn page(token: Option<&str>) -> Response {
    let settings = Settings {
        endpoint: "/graphql",
        subscription_endpoint: "/graphql/ws",
        headers: token.map(|token| {
            serde_json::to_string_pretty(&serde_json::json!({ "Authorization": format!("Bearer {token}") }))
                .expect("a map of strings serializes")
        }),
        default_query: if token.is_some() { WITH_TOKEN } else { WITHOUT_TOKEN },
    };
    let page = PAGE.replace("{{settings}}", &script_safe_json(&settings));
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            // The page may hold a token.
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        page,
    )
        .into_response()
}

/// `value` as JSON that cannot end the `<script>` element holding it: `<`, `>` and `&`
/// escaped, which JSON reads back as they were.
fn script_safe_json(value: &impl Serialize) -> String {
    serde_json::to_string(value)
        .expect("settings serialize")
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// The file `name` of GraphiQL's page; 404 for any other name.
pub fn asset(name: &str) -> Response {
    let Some(asset) = ASSETS.iter().find(|asset| asset.name == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    (
        [
            (header::CONTENT_TYPE, asset.content_type),
            (header::CACHE_CONTROL, asset.cache_control),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        asset.body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The versions `assets/graphiql/fetch.sh` fetched, as it spells them.
    fn fetched(variable: &str) -> String {
        let script = include_str!("../assets/graphiql/fetch.sh");
        let line = script
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{variable}=")))
            .expect("fetch.sh sets the version");
        line.to_owned()
    }

    #[test]
    fn the_names_served_carry_the_versions_fetched() {
        let graphiql = fetched("GRAPHIQL");
        let react = fetched("REACT");

        let names: Vec<&str> = ASSETS.iter().map(|asset| asset.name).collect();

        assert_eq!(
            names,
            [
                format!("graphiql-{graphiql}.min.js"),
                format!("graphiql-{graphiql}.min.css"),
                format!("react-{react}.production.min.js"),
                format!("react-dom-{react}.production.min.js"),
                "start.js".to_owned(),
            ]
        );
        // React's builds name their version inside.
        for asset in &ASSETS[2..4] {
            let body = String::from_utf8_lossy(asset.body);
            assert!(body.contains(&format!("\"{react}\"")), "{}", asset.name);
        }
    }

    #[test]
    fn the_page_names_every_file_and_no_other_host() {
        let page = PAGE.replace("{{settings}}", "{}");

        for asset in &ASSETS {
            assert!(page.contains(&format!("/graphiql/{}\"", asset.name)), "{}", asset.name);
        }
        assert!(!page.contains("//"), "a URL with a host: {page}");
    }

    #[test]
    fn settings_cannot_end_their_script_element() {
        let json = script_safe_json(&serde_json::json!({ "headers": "</script><script>alert(1)</script>&" }));

        assert!(
            !json.contains('<') && !json.contains('>') && !json.contains('&'),
            "{json}"
        );
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&json).unwrap()["headers"],
            "</script><script>alert(1)</script>&"
        );
    }
}
