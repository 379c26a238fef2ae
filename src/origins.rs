//! Front ends served from other origins (`cors_origins`): which browser `Origin`s may
//! call `POST /graphql` (CORS) and open `GET /graphql/ws`. Tokens travel in the
//! `Authorization` header and in `connection_init`, never in cookies, so no credentials
//! are allowed and an origin outside the list only loses the browser's permission to
//! read the answer, or its socket.
use std::time::Duration;

use axum::http::header::{ACCESS_CONTROL_ALLOW_ORIGIN, AUTHORIZATION, CONTENT_TYPE, HOST, ORIGIN};
use axum::http::{HeaderMap, HeaderValue, Method, Uri};
use axum::response::Response;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// How long a browser may reuse a preflight's answer: without it, every request that
/// carries a token would cost a second round trip.
pub const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// Whether `origin` is written as browsers send it in `Origin`: `http` or `https`,
/// a host and an optional port, lowercase, with no path (not even `/`), no user and no
/// default port. Anything else could never match a request, so it is refused with
/// why, rather than silently never allowed.
pub fn check(origin: &str) -> Result<(), String> {
    let refused = || {
        Err(format!(
            "{origin:?} is not an origin as browsers send it: scheme://host[:port] such as \
             https://studio.example.com, lowercase, with no path and no default port"
        ))
    };
    let Ok(uri) = origin.parse::<Uri>() else {
        return refused();
    };
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return refused();
    };
    let default_port = match scheme {
        "http" => 80,
        "https" => 443,
        _ => return refused(),
    };
    let canonical = format!("{scheme}://{authority}") == origin
        && !authority.as_str().contains('@')
        && origin == origin.to_ascii_lowercase()
        && authority.port_u16() != Some(default_port);
    if canonical { Ok(()) } else { refused() }
}

/// The origins of the front ends, as configured.
#[derive(Debug, Clone, Default)]
pub struct Origins {
    allowed: Vec<HeaderValue>,
}

impl Origins {
    /// The origins of `cors_origins`, which `Config` has checked with [`check`].
    pub fn new(origins: &[String]) -> Self {
        Origins {
            allowed: origins
                .iter()
                .filter_map(|origin| HeaderValue::from_str(origin).ok())
                .collect(),
        }
    }

    /// CORS for `POST /graphql`: a preflight or a request from an origin of the list
    /// is answered with that origin, `POST`, and the headers `Authorization` and
    /// `Content-Type`; any other origin gets no CORS header at all.
    pub fn cors(&self) -> CorsLayer {
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(self.allowed.iter().cloned()))
            .allow_methods([Method::POST])
            .allow_headers([AUTHORIZATION, CONTENT_TYPE])
            .max_age(PREFLIGHT_MAX_AGE)
    }

    /// Whether a WebSocket upgrade with `headers` may proceed: a browser sends
    /// `Origin`, which must be of the list or the service's own (its host and port
    /// those of `Host`). Browsers let any page open a socket anywhere, and the socket
    /// then acts with whatever token that page's script sends, so this is the only
    /// check of where it came from. A client that is not a browser sends no `Origin`
    /// and is let through: it could send any `Origin` it likes anyway.
    pub fn allows_socket(&self, headers: &HeaderMap) -> bool {
        let Some(origin) = headers.get(ORIGIN) else {
            return true;
        };
        if self.allowed.contains(origin) {
            return true;
        }
        let origin_authority = origin
            .to_str()
            .ok()
            .and_then(|origin| origin.parse::<Uri>().ok())
            .and_then(|uri| uri.authority().map(|authority| authority.as_str().to_owned()));
        let host = headers.get(HOST).and_then(|host| host.to_str().ok());
        matches!((origin_authority, host), (Some(origin), Some(host)) if origin.eq_ignore_ascii_case(host))
    }
}

/// Wraps [`Origins::cors`]: tower-http answers a preflight from any origin with the
/// methods, headers and max age, leaving out only `Access-Control-Allow-Origin`. This
/// takes the rest away too, so an origin outside the list gets no CORS header at all.
pub fn only_for_allowed(mut response: Response) -> Response {
    if !response.headers().contains_key(ACCESS_CONTROL_ALLOW_ORIGIN) {
        let headers = response.headers_mut();
        let cors: Vec<_> = headers
            .keys()
            .filter(|name| name.as_str().starts_with("access-control-"))
            .cloned()
            .collect();
        for name in cors {
            headers.remove(name);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_taken_only_as_browsers_write_them() {
        for good in [
            "https://studio.example.com",
            "http://127.0.0.1:5173",
            "https://studio.example.com:8443",
        ] {
            assert_eq!(check(good), Ok(()), "{good}");
        }
        for bad in [
            "https://studio.example.com/",
            "https://studio.example.com/billing",
            "https://Studio.example.com",
            "https://studio.example.com:443",
            "http://studio.example.com:80",
            "studio.example.com",
            "ftp://studio.example.com",
            "https://user@studio.example.com",
            "*",
            "null",
            "",
        ] {
            assert!(check(bad).is_err(), "{bad:?} was taken");
        }
    }

    fn headers(pairs: &[(axum::http::HeaderName, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| (name.clone(), HeaderValue::from_str(value).expect("a header")))
            .collect()
    }

    #[test]
    fn a_socket_is_let_through_without_origin_from_the_list_or_from_its_own_origin() {
        let origins = Origins::new(&["https://studio.example.com".into()]);

        assert!(origins.allows_socket(&headers(&[(HOST, "api.example.com")])));
        assert!(origins.allows_socket(&headers(&[
            (HOST, "api.example.com"),
            (ORIGIN, "https://studio.example.com")
        ])));
        assert!(origins.allows_socket(&headers(&[(HOST, "127.0.0.1:8000"), (ORIGIN, "http://127.0.0.1:8000")])));
        assert!(!origins.allows_socket(&headers(&[(HOST, "127.0.0.1:8000"), (ORIGIN, "http://127.0.0.1:8001")])));
        assert!(!origins.allows_socket(&headers(&[(HOST, "api.example.com"), (ORIGIN, "https://evil.example")])));
        assert!(!origins.allows_socket(&headers(&[(HOST, "api.example.com"), (ORIGIN, "null")])));
        assert!(!origins.allows_socket(&headers(&[(ORIGIN, "https://evil.example")])));
    }
}
