//! figment's errors said in one line a person can act on: the key, its value (never a
//! secret's), where it was set (a file, a `STUDIO_<KEY>` variable), what the key
//! takes, and for a misspelt key or value the nearest known one.
//!
//! ```text
//! configuration: unknown key `launchat` = "2026-12-01T00:00:00Z" in studio.toml; did you mean `launch_at`?
//! configuration key `max_batch_photos` = "lots" from STUDIO_MAX_BATCH_PHOTOS: must be a whole number, 0 or more
//! configuration key `clock` = "sundial" from STUDIO_CLOCK: must be `system` or `manual`
//! ```
use figment::error::{Actual, Kind};
use figment::value::Value;
use figment::{Figment, Source};

/// Keys whose values never print: the signing secrets and the database URLs, which may
/// carry a password.
const SECRET_KEYS: [&str; 4] = ["jwt_secret", "id_secret", "database_url", "listen_database_url"];

/// Longest value quoted in a message; a longer one is cut with `…`.
const VALUE_CHARS: usize = 60;

/// `error`, raised extracting a `Config` from `figment`, as one line.
pub(super) fn explain(figment: &Figment, error: &figment::Error) -> String {
    let line = Explained::new(figment, error).line();
    match error.count() {
        1 => line,
        n => format!("{line} (and {} more)", n - 1),
    }
}

struct Explained<'a> {
    error: &'a figment::Error,
    /// The path of the key, tables and list items included: `backgrounds[0].name`.
    key: String,
    /// The value as set, quoted, `[redacted]` for a secret; empty when unknown.
    value: Option<String>,
    /// ` in studio.toml`, ` from STUDIO_CLOCK`, or nothing.
    place: String,
    /// The environment variable's prefix when the value came from one (`STUDIO_`).
    env_prefix: Option<String>,
}

impl<'a> Explained<'a> {
    fn new(figment: &Figment, error: &'a figment::Error) -> Self {
        let mut path = error.path.clone();
        if let Kind::UnknownField(name, _) = &error.kind
            && path.last() != Some(name)
        {
            path.push(name.clone());
        }
        let key = path.iter().fold(String::new(), |mut key, segment| {
            if segment.parse::<usize>().is_ok() {
                key.push_str(&format!("[{segment}]"));
            } else {
                if !key.is_empty() {
                    key.push('.');
                }
                key.push_str(segment);
            }
            key
        });
        let env_prefix = error.metadata.as_ref().and_then(|md| {
            md.name
                .ends_with("environment variable(s)")
                .then(|| md.name.split('`').nth(1).unwrap_or_default().to_owned())
        });
        let place = match (&error.metadata, &env_prefix) {
            (_, Some(prefix)) if !path.is_empty() => format!(" from {prefix}{}", path[0].to_ascii_uppercase()),
            (Some(md), None) => match &md.source {
                Some(source @ Source::File(_)) => format!(" in {source}"),
                _ => String::new(),
            },
            _ => String::new(),
        };
        let value = if path.iter().any(|segment| secret_like(segment)) || suggests_secret(error) {
            Some("[redacted]".to_owned())
        } else {
            figment
                .extract::<Value>()
                .ok()
                .and_then(|root| find(root, &path))
                .map(|value| quoted(&value))
                .or_else(|| actual(&error.kind))
        };
        Explained {
            error,
            key,
            value,
            place,
            env_prefix,
        }
    }

    fn line(&self) -> String {
        let Explained { key, place, .. } = self;
        let value = self.value.as_ref().map(|v| format!(" = {v}")).unwrap_or_default();
        let leaf = key.rsplit(['.', ']']).next().unwrap_or(key);
        match &self.error.kind {
            Kind::UnknownField(name, expected) => {
                let hint = match nearest(name, expected) {
                    Some(near) => match &self.env_prefix {
                        Some(prefix) => format!("did you mean `{near}` ({prefix}{})?", near.to_ascii_uppercase()),
                        None => format!("did you mean `{near}`?"),
                    },
                    None => format!("the keys are {}", listed(expected, ", ")),
                };
                format!("configuration: unknown key `{key}`{value}{place}; {hint}")
            }
            Kind::UnknownVariant(name, expected) => {
                let near = nearest(name, expected)
                    .map(|near| format!("; did you mean `{near}`?"))
                    .unwrap_or_default();
                let allowed = match expected.len() {
                    2 => format!("`{}` or `{}`", expected[0], expected[1]),
                    _ => format!("one of {}", listed(expected, ", ")),
                };
                // A table's key that is not one of its names (`[plans.GOLD]`) is the
                // value at fault, not what the table holds.
                if leaf == name {
                    format!("configuration key `{key}`{place}: `{name}` must be {allowed}{near}")
                } else {
                    format!("configuration key `{key}` = {name:?}{place}: must be {allowed}{near}")
                }
            }
            Kind::InvalidType(_, expected) | Kind::InvalidValue(_, expected) => {
                let allowed = allowed_for(leaf).map_or_else(|| humanized(expected), str::to_owned);
                format!("configuration key `{key}`{value}{place}: must be {allowed}")
            }
            Kind::MissingField(name) => format!("configuration key `{key}`{place}: `{name}` is missing"),
            Kind::Message(message) if key.is_empty() => {
                match self.error.metadata.as_ref().and_then(|md| md.source.as_ref()) {
                    Some(source @ Source::File(_)) => format!("configuration file {source}: {}", one_line(message)),
                    _ => format!("configuration: {}", one_line(message)),
                }
            }
            Kind::Message(message) => match allowed_for(leaf) {
                Some(allowed) => format!("configuration key `{key}`{value}{place}: must be {allowed}"),
                None => format!("configuration key `{key}`{value}{place}: {}", one_line(message)),
            },
            other if key.is_empty() => format!("configuration{place}: {other}"),
            other => format!("configuration key `{key}`{value}{place}: {other}"),
        }
    }
}

/// Whether a key's value may be a secret: one of [`SECRET_KEYS`], or a name like one.
fn secret_like(key: &str) -> bool {
    SECRET_KEYS.contains(&key) || ["secret", "password", "jwt"].iter().any(|word| key.contains(word))
}

/// Whether an unknown key is a misspelling of a secret's (`jwt_secrte`).
fn suggests_secret(error: &figment::Error) -> bool {
    match &error.kind {
        Kind::UnknownField(name, expected) => nearest(name, expected).is_some_and(secret_like),
        _ => false,
    }
}

/// The value at `path` under `root`, through tables and lists.
fn find(root: Value, path: &[String]) -> Option<Value> {
    path.iter().try_fold(root, |value, segment| match value {
        Value::Dict(_, mut dict) => dict.remove(segment),
        Value::Array(_, mut items) => segment
            .parse::<usize>()
            .ok()
            .filter(|&i| i < items.len())
            .map(|i| items.swap_remove(i)),
        _ => None,
    })
}

/// A value as TOML or JSON would write it, cut at [`VALUE_CHARS`].
fn quoted(value: &Value) -> String {
    let text = serde_json::to_string(value).unwrap_or_else(|_| "?".into());
    match text.char_indices().nth(VALUE_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text,
    }
}

/// The value serde saw, when the figment no longer holds it.
fn actual(kind: &Kind) -> Option<String> {
    let actual = match kind {
        Kind::InvalidType(actual, _) | Kind::InvalidValue(actual, _) => actual,
        Kind::UnknownVariant(name, _) => return Some(format!("{name:?}")),
        _ => return None,
    };
    Some(match actual {
        Actual::Str(s) => format!("{s:?}"),
        Actual::Bool(b) => b.to_string(),
        Actual::Signed(n) => n.to_string(),
        Actual::Unsigned(n) => n.to_string(),
        Actual::Float(n) => n.to_string(),
        other => other.to_string(),
    })
}

/// What a key takes, for the keys whose type alone does not say it.
fn allowed_for(key: &str) -> Option<&'static str> {
    match key {
        "launch_at" | "starts_at" => Some("an RFC 3339 instant such as 2026-12-01T00:00:00Z"),
        "billing_time_zone" => Some("an IANA time zone such as Europe/Berlin"),
        "addr" => Some("an address and port such as 127.0.0.1:8000"),
        "cors_origins" => {
            Some("a list of origins such as [\"https://studio.example.com\"] (in the environment: separated by commas)")
        }
        "metrics_addr" => Some("an address and port such as 127.0.0.1:9100"),
        _ => None,
    }
}

/// serde's name for what it expected, in words.
fn humanized(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number, 0 or more".into(),
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number".into(),
        "f32" | "f64" => "a number".into(),
        "a boolean" => "true or false".into(),
        "a sequence" => "a list".into(),
        "a map" => "a table".into(),
        other if other.starts_with("struct ") => "a table".into(),
        other => other.into(),
    }
}

/// The known name nearest `name`: a small edit away, or `name` cut short.
fn nearest(name: &str, known: &[&'static str]) -> Option<&'static str> {
    let name = name.to_ascii_lowercase();
    known
        .iter()
        .map(|&candidate| (strsim::levenshtein(&name, &candidate.to_ascii_lowercase()), candidate))
        .filter(|&(distance, candidate)| {
            let prefix = name.len() >= 3 && (candidate.starts_with(&name) || name.starts_with(candidate));
            distance <= (name.len() / 3).max(2) || prefix
        })
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, candidate)| candidate)
}

fn listed(names: &[&str], separator: &str) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(separator)
}

/// A message of several lines (a TOML parse error draws the line it failed on) as
/// one: its first line and its last, which say where and why.
fn one_line(message: &str) -> String {
    let lines: Vec<&str> = message.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    match lines.as_slice() {
        [] => String::new(),
        [only] => (*only).to_owned(),
        [first, .., last] => format!("{first}: {last}"),
    }
}
