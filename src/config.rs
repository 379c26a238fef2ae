//! Settings: defaults (the provisional values of the credit rules), then the TOML file
//! named by `STUDIO_CONFIG`, then `STUDIO_<KEY>` environment variables (and plain
//! `DATABASE_URL`), the later winning. Anything invalid stops the start with a message
//! that names the key.
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::ops::RangeInclusive;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use entity::enums::PlanCode;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use sea_orm::sqlx::postgres::PgConnectOptions;
use serde::{Deserialize, Deserializer, Serialize};

use crate::limits::Limits;
use crate::origins;
use crate::rules::catalog::PackSettings;
use crate::secret::Secret;

mod explain;

/// The highest `max_logos` a configuration may set: the complexity limit counts an
/// account's logos at this number, since it cannot read the configuration.
pub const MAX_LOGOS_CEILING: usize = 100;

/// Every setting of the service. `Debug` and `Serialize` show the secrets as
/// `[redacted]`, so a configuration may be logged whole.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub addr: SocketAddr,
    /// None: the embedded SQLite file `studio-bff.sqlite` in the working folder. A
    /// [`Secret`]: the URL may carry a password.
    pub database_url: Option<Secret>,
    /// PostgreSQL: where the instance's one listening connection (LISTEN on the
    /// ledger's channel) goes; none: `database_url`. Set it when `database_url` names a
    /// pooler in transaction mode, which does not carry a LISTEN: this one names
    /// PostgreSQL itself. A [`Secret`]: the URL may carry a password.
    pub listen_database_url: Option<Secret>,
    /// The HS256 secret of the tokens; none: HS256 tokens are refused (but see
    /// [`crate::demo::keys`] for the embedded default).
    pub jwt_secret: Option<Secret>,
    /// The secret of global ids and cursors; none: `jwt_secret`'s.
    pub id_secret: Option<Secret>,
    /// The identity provider's JWKS: RS256 and ES256 tokens are checked with its keys.
    pub jwt_jwks_url: Option<String>,
    /// When set, every token's `iss` must be this.
    pub jwt_issuer: Option<String>,
    /// When set, every token's `aud` must name this.
    pub jwt_audience: Option<String>,
    pub clock: ClockMode,
    /// Start of the promotion campaign `launch`; none configured means no such campaign.
    pub launch_at: Option<DateTime<Utc>>,
    /// Length of the campaign `launch`'s window.
    pub launch_promotion_days: u32,
    /// Further promotion campaigns (a later phase for other plans, say).
    pub promotions: Vec<PromotionSettings>,
    /// Day of the month (1–31) on which a cycle starts, clamped to short months.
    pub monthly_reset_day: u32,
    pub billing_time_zone: Tz,
    /// Premium's credits per cycle.
    pub fair_use_cap: i32,
    pub professional_credits_per_slot: i32,
    pub professional_plus_credits_per_slot: i32,
    pub max_batch_photos: usize,
    /// Logos an account's library may hold (1 to [`MAX_LOGOS_CEILING`]).
    pub max_logos: usize,
    /// Credits that expire within this many days show in the balance's `expiringSoon`.
    pub expiry_warning_days: u32,
    /// The balance is `low` while fewer credits than this are available (premium under
    /// its cap never is).
    pub low_balance_threshold: i32,
    pub idempotency_retention_hours: u32,
    /// Who renders the edits; none: `builtin` in the embedded default (no database
    /// configured), `external` otherwise.
    pub renderer: Option<RendererKind>,
    /// How long a claimed render job is the claimant's before it is offered again.
    pub render_lease_seconds: u32,
    /// A render job not finished this long after its edit was charged fails with
    /// "timed out", and the edit's credit goes back.
    pub render_give_up_minutes: u32,
    /// Currency of every price and invoice.
    pub currency: String,
    /// Base price of one credit, before a pack's volume discount.
    pub credit_price_cents: i64,
    /// VAT added to the net prices on invoices, in whole percent.
    pub vat_percent: i32,
    /// Who issues the invoices and credit notes.
    pub seller: SellerSettings,
    pub plans: BTreeMap<PlanCode, PlanSettings>,
    pub packs: Vec<PackSettings>,
    pub backgrounds: Vec<BackgroundSettings>,
    /// Whether introspection and GraphiQL are served (`STUDIO_PUBLIC_SCHEMA`).
    pub public_schema: bool,
    /// How logs are written (`STUDIO_LOG_FORMAT`): readable text or JSON lines.
    pub log_format: LogFormat,
    /// Origins of front ends served from elsewhere (`https://studio.example.com`):
    /// `POST /graphql` answers their CORS requests and the WebSocket takes their
    /// `Origin`. In the environment, one string separated by commas.
    #[serde(deserialize_with = "list_or_commas")]
    pub cors_origins: Vec<String>,
    /// Whether member tokens may run only the contract's documents ([`crate::trusted`]).
    pub trusted_documents: TrustedDocuments,
    /// Largest request body, in bytes; a larger one is answered 413.
    pub max_body_bytes: usize,
    /// Longest a request may take before it is answered 408, in milliseconds.
    pub request_timeout_ms: u64,
    /// Most operations in one batched `POST /graphql`.
    pub max_batch_operations: usize,
    /// Most HTTP requests of one account served at once on an instance.
    pub max_requests_per_account: usize,
    /// Longest a WebSocket may wait before sending `connection_init`, in milliseconds.
    pub ws_init_timeout_ms: u64,
    /// How often an idle WebSocket is pinged, in milliseconds.
    pub ws_keep_alive_ms: u64,
    /// Most operations one WebSocket runs at once.
    pub ws_max_operations: usize,
    /// Connections in the database pool; none: [`crate::db::default_pool_size`] (8 on
    /// SQLite, 32 on PostgreSQL).
    pub database_pool_size: Option<u32>,
    /// Whether the service brings the database's schema up to date when it starts.
    /// When false it only checks, and refuses to start on a database that `studio-bff
    /// migrate` has not brought up to date (for deployments that migrate as a step of
    /// their own).
    pub migrate_on_start: bool,
    /// Where `/metrics` is served, alone and without a token; none: on `addr`, to an
    /// OPS token.
    pub metrics_addr: Option<SocketAddr>,
    /// The OTLP/HTTP collector the traces go to (`http://host:4318`); none: no export.
    pub otlp_endpoint: Option<String>,
    /// Where events for other systems are posted; none: they are kept, not sent.
    pub webhook_url: Option<String>,
    /// The Standard Webhooks signing secret (`whsec_` and base64, or any text of 24
    /// characters or more); required with `webhook_url`.
    pub webhook_secret: Option<Secret>,
    /// How long an event is retried before it is FAILED.
    pub webhook_retry_hours: u32,
}

/// A list, or one string of items separated by commas: the form an environment
/// variable can hold (`STUDIO_CORS_ORIGINS=https://a.example,https://b.example`).
fn list_or_commas<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Form {
        List(Vec<String>),
        Commas(String),
    }
    Ok(match Form::deserialize(deserializer)? {
        Form::List(items) => items,
        Form::Commas(text) => text
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

/// The shape of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Whether member tokens are held to the contract's documents ([`crate::trusted`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrustedDocuments {
    /// Any document runs (the embedded default's, so GraphiQL works).
    Off,
    /// A member runs only the trusted documents; others run anything.
    Enforce,
}

/// Who renders the edits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RendererKind {
    /// The service's own preview renderer ([`crate::preview`]): SVGs it serves itself.
    Builtin,
    /// A render service with a RENDERER token claims the jobs over GraphQL.
    External,
}

/// Where the service reads the time from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClockMode {
    System,
    /// Starts at the real time and moves only when told to (never in production).
    Manual,
}

/// A promotion campaign: a window of `days` from `starts_at`, and the credits per
/// listing slot it grants each plan (none for a plan not listed).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromotionSettings {
    pub id: String,
    pub starts_at: DateTime<Utc>,
    pub days: u32,
    #[serde(default)]
    pub credits_per_slot: BTreeMap<PlanCode, i32>,
}

/// The id of the campaign that `launch_at`, `launch_promotion_days` and the plans'
/// `promotion_credits_per_slot` configure.
pub const LAUNCH_CAMPAIGN: &str = "launch";

/// What a plan is called and what the campaign `launch` grants it per slot.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanSettings {
    pub name: String,
    pub promotion_credits_per_slot: i32,
}

/// The seller named on every invoice and credit note (`[seller]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SellerSettings {
    pub name: String,
    pub address: Option<String>,
    pub vat_id: Option<String>,
}

/// A background the studio offers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackgroundSettings {
    pub id: String,
    pub name: String,
    pub preview_url: String,
}

/// Configuration that cannot be used, with the key at fault, said in one line.
#[derive(thiserror::Error)]
pub enum ConfigError {
    /// A value that does not read as a setting: an unknown key, a wrong type, a value
    /// outside a list, a file that is not TOML. `message` names the key, its value,
    /// where it was set and what is allowed ([`explain`]); `source` is figment's own.
    #[error("{message}")]
    Parse {
        message: String,
        #[source]
        source: Box<figment::Error>,
    },
    #[error("configuration key `{key}`: {problem}")]
    Invalid { key: &'static str, problem: String },
}

/// The sentence, not figment's structure: a `Result` printed with `{:?}` (a `main`
/// returning it, an `expect`) says the same one line.
impl std::fmt::Debug for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl Default for Config {
    fn default() -> Self {
        let plan = |name: &str, promotion_credits_per_slot| PlanSettings {
            name: name.into(),
            promotion_credits_per_slot,
        };
        let pack = |id: &str, name: &str, plans: &[PlanCode], credits, discount_percent| PackSettings {
            id: id.into(),
            name: name.into(),
            plans: plans.to_vec(),
            credits,
            discount_percent,
        };
        let background = |id: &str, name: &str| BackgroundSettings {
            id: id.into(),
            name: name.into(),
            preview_url: format!("https://cdn.studio.example/backgrounds/{id}.jpg"),
        };
        let limits = Limits::default();
        let pro = [PlanCode::ProfessionalPlus, PlanCode::Professional];
        let basic = [PlanCode::Basic];
        Config {
            addr: "127.0.0.1:8000".parse().expect("a literal address"),
            database_url: None,
            listen_database_url: None,
            jwt_secret: None,
            id_secret: None,
            jwt_jwks_url: None,
            jwt_issuer: None,
            jwt_audience: None,
            clock: ClockMode::System,
            launch_at: None,
            launch_promotion_days: 28,
            promotions: Vec::new(),
            monthly_reset_day: 1,
            billing_time_zone: Tz::UTC,
            fair_use_cap: 2000,
            professional_credits_per_slot: 5,
            professional_plus_credits_per_slot: 10,
            max_batch_photos: 100,
            max_logos: 50,
            expiry_warning_days: 7,
            low_balance_threshold: 10,
            idempotency_retention_hours: 24,
            renderer: None,
            render_lease_seconds: 60,
            render_give_up_minutes: 30,
            currency: "EUR".into(),
            credit_price_cents: 50,
            vat_percent: 19,
            seller: SellerSettings {
                name: "AI Background Studio".into(),
                address: None,
                vat_id: None,
            },
            plans: BTreeMap::from([
                (PlanCode::Basic, plan("Basic", 0)),
                (PlanCode::Professional, plan("Professional", 0)),
                (PlanCode::ProfessionalPlus, plan("Professional Plus", 10)),
                (PlanCode::Premium, plan("Premium", 0)),
            ]),
            packs: vec![
                pack("pro-small", "Small pack", &pro, 25, 0),
                pack("pro-medium", "Medium pack", &pro, 50, 5),
                pack("pro-large", "Large pack", &pro, 100, 10),
                pack("basic-small", "Small pack", &basic, 100, 0),
                pack("basic-medium", "Medium pack", &basic, 250, 10),
                pack("basic-large", "Large pack", &basic, 500, 20),
            ],
            backgrounds: vec![
                background("studio-white", "Studio white"),
                background("showroom", "Showroom"),
                background("city-street", "City street"),
                background("mountain-road", "Mountain road"),
            ],
            public_schema: true,
            log_format: LogFormat::Text,
            max_body_bytes: limits.body_bytes,
            request_timeout_ms: millis(limits.timeout),
            max_batch_operations: limits.batch,
            max_requests_per_account: limits.requests_per_account,
            ws_init_timeout_ms: millis(limits.connection_init),
            ws_keep_alive_ms: millis(limits.keep_alive),
            ws_max_operations: limits.subscriptions_per_connection,
            database_pool_size: None,
            migrate_on_start: true,
            cors_origins: Vec::new(),
            trusted_documents: TrustedDocuments::Off,
            metrics_addr: None,
            otlp_endpoint: None,
            webhook_url: None,
            webhook_secret: None,
            webhook_retry_hours: 72,
        }
    }
}

fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl Config {
    /// Reads the settings from the process environment (and the file it names).
    pub fn load() -> Result<Self, ConfigError> {
        Self::from_figment(Self::figment())
    }

    /// Defaults, then `STUDIO_CONFIG`'s file, then the environment.
    pub fn figment() -> Figment {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Ok(path) = std::env::var("STUDIO_CONFIG") {
            figment = figment.merge(Toml::file_exact(path));
        }
        figment
            .merge(Env::raw().only(&["DATABASE_URL"]))
            .merge(Env::prefixed("STUDIO_").ignore(&["CONFIG"]))
    }

    /// Extracts and validates the settings of `figment`.
    pub fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let config: Config = figment.extract().map_err(|error| ConfigError::Parse {
            message: explain::explain(&figment, &error),
            source: Box::new(error),
        })?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, problem: String| Err(ConfigError::Invalid { key, problem });
        if !(1..=31).contains(&self.monthly_reset_day) {
            return invalid(
                "monthly_reset_day",
                format!("must be 1 to 31, not {}", self.monthly_reset_day),
            );
        }
        if !(1..=366).contains(&self.launch_promotion_days) {
            return invalid(
                "launch_promotion_days",
                format!("must be 1 to 366, not {}", self.launch_promotion_days),
            );
        }
        self.validate_promotions()?;
        self.validate_identity()?;
        self.validate_listen()?;
        if !(0..=1_000_000).contains(&self.fair_use_cap) {
            return invalid(
                "fair_use_cap",
                format!("must be 0 to 1000000, not {}", self.fair_use_cap),
            );
        }
        for (key, value) in [
            ("professional_credits_per_slot", self.professional_credits_per_slot),
            (
                "professional_plus_credits_per_slot",
                self.professional_plus_credits_per_slot,
            ),
        ] {
            if !(0..=10_000).contains(&value) {
                return invalid(key, format!("must be 0 to 10000, not {value}"));
            }
        }
        if !(1..=10_000).contains(&self.max_batch_photos) {
            return invalid(
                "max_batch_photos",
                format!("must be 1 to 10000, not {}", self.max_batch_photos),
            );
        }
        if !(1..=MAX_LOGOS_CEILING).contains(&self.max_logos) {
            return invalid(
                "max_logos",
                format!("must be 1 to {MAX_LOGOS_CEILING}, not {}", self.max_logos),
            );
        }
        if !(1..=366).contains(&self.expiry_warning_days) {
            return invalid(
                "expiry_warning_days",
                format!("must be 1 to 366, not {}", self.expiry_warning_days),
            );
        }
        if !(0..=1_000_000).contains(&self.low_balance_threshold) {
            return invalid(
                "low_balance_threshold",
                format!("must be 0 to 1000000, not {}", self.low_balance_threshold),
            );
        }
        self.validate_limits()?;
        if let Some(problem) = self.cors_origins.iter().find_map(|o| origins::check(o).err()) {
            return invalid("cors_origins", problem);
        }
        self.validate_telemetry()?;
        self.validate_webhooks()?;
        if !(1..=24 * 365).contains(&self.idempotency_retention_hours) {
            return invalid(
                "idempotency_retention_hours",
                format!("must be 1 to 8760, not {}", self.idempotency_retention_hours),
            );
        }
        if !(1..=3600).contains(&self.render_lease_seconds) {
            return invalid(
                "render_lease_seconds",
                format!("must be 1 to 3600, not {}", self.render_lease_seconds),
            );
        }
        if !(1..=7 * 24 * 60).contains(&self.render_give_up_minutes) {
            return invalid(
                "render_give_up_minutes",
                format!("must be 1 to 10080, not {}", self.render_give_up_minutes),
            );
        }
        if self.currency.len() != 3 || !self.currency.chars().all(|c| c.is_ascii_uppercase()) {
            return invalid(
                "currency",
                format!("must be an ISO 4217 code such as EUR, not {:?}", self.currency),
            );
        }
        if !(1..=1_000_000).contains(&self.credit_price_cents) {
            return invalid(
                "credit_price_cents",
                format!("must be 1 to 1000000, not {}", self.credit_price_cents),
            );
        }
        if !(0..=100).contains(&self.vat_percent) {
            return invalid("vat_percent", format!("must be 0 to 100, not {}", self.vat_percent));
        }
        let seller_fields = [
            ("name", Some(&self.seller.name)),
            ("address", self.seller.address.as_ref()),
            ("vat_id", self.seller.vat_id.as_ref()),
        ];
        if let Some((field, _)) = seller_fields
            .iter()
            .find(|(_, v)| v.is_some_and(|v| v.trim().is_empty()))
        {
            return invalid("seller", format!("`{field}` must not be empty"));
        }
        for plan in [
            PlanCode::Basic,
            PlanCode::Professional,
            PlanCode::ProfessionalPlus,
            PlanCode::Premium,
        ] {
            match self.plans.get(&plan) {
                None => return invalid("plans", format!("missing the plan {plan:?}")),
                Some(p) if !(0..=10_000).contains(&p.promotion_credits_per_slot) => {
                    return invalid(
                        "plans",
                        format!("{plan:?}: promotion_credits_per_slot must be 0 to 10000"),
                    );
                }
                Some(_) => {}
            }
        }
        let mut pack_ids = BTreeSet::new();
        for pack in &self.packs {
            if !pack_ids.insert(pack.id.as_str()) {
                return invalid("packs", format!("the id {:?} is used twice", pack.id));
            }
            if !(1..=1_000_000).contains(&pack.credits) || !(0..=100).contains(&pack.discount_percent) {
                return invalid(
                    "packs",
                    format!(
                        "{}: credits must be 1 to 1000000 and discount_percent 0 to 100",
                        pack.id
                    ),
                );
            }
            if pack.exact_price_cents(self.credit_price_cents).is_none() {
                return invalid(
                    "packs",
                    format!("{}: the discounted price is not a whole number of cents", pack.id),
                );
            }
        }
        let mut background_ids = BTreeSet::new();
        for background in &self.backgrounds {
            if background.id.is_empty() || !background_ids.insert(background.id.as_str()) {
                return invalid(
                    "backgrounds",
                    format!("the id {:?} is empty or used twice", background.id),
                );
            }
        }
        if self.backgrounds.is_empty() {
            return invalid("backgrounds", "at least one background is needed".into());
        }
        Ok(())
    }

    /// A listening URL is PostgreSQL's, beside a PostgreSQL `database_url`: SQLite and
    /// the embedded default listen to nothing.
    fn validate_listen(&self) -> Result<(), ConfigError> {
        let Some(listen) = &self.listen_database_url else {
            return Ok(());
        };
        let postgres = |url: &str| url.starts_with("postgres://") || url.starts_with("postgresql://");
        let problem = if !postgres(listen.expose()) || listen.expose().parse::<PgConnectOptions>().is_err() {
            "must be a postgres:// URL"
        } else if !self.database_url.as_ref().is_some_and(|url| postgres(url.expose())) {
            "is for PostgreSQL only: database_url must be a postgres:// URL too"
        } else {
            return Ok(());
        };
        Err(ConfigError::Invalid {
            key: "listen_database_url",
            problem: problem.to_owned(),
        })
    }

    /// The provider's JWKS is an http(s) URL; an issuer or audience set is not empty.
    fn validate_identity(&self) -> Result<(), ConfigError> {
        if let Some(url) = &self.jwt_jwks_url {
            let parsed: Option<reqwest::Url> = url.parse().ok();
            if !parsed.is_some_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some()) {
                return Err(ConfigError::Invalid {
                    key: "jwt_jwks_url",
                    problem: format!("must be an http:// or https:// URL, not {url:?}"),
                });
            }
        }
        for (key, value) in [("jwt_issuer", &self.jwt_issuer), ("jwt_audience", &self.jwt_audience)] {
            if value.as_ref().is_some_and(|v| v.trim().is_empty()) {
                return Err(ConfigError::Invalid {
                    key,
                    problem: "must not be empty (leave it out to check nothing)".into(),
                });
            }
        }
        Ok(())
    }

    /// The limits of the HTTP and WebSocket layers, and the pool's size, within what
    /// serves anyone: a zero would refuse every request or stop the keep-alive timer.
    fn validate_limits(&self) -> Result<(), ConfigError> {
        let wide = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        let ranges: [(&'static str, u64, RangeInclusive<u64>); 8] = [
            ("max_body_bytes", wide(self.max_body_bytes), 1024..=16 * 1024 * 1024),
            ("request_timeout_ms", self.request_timeout_ms, 1_000..=600_000),
            ("max_batch_operations", wide(self.max_batch_operations), 1..=100),
            (
                "max_requests_per_account",
                wide(self.max_requests_per_account),
                1..=1_000,
            ),
            ("ws_init_timeout_ms", self.ws_init_timeout_ms, 1_000..=300_000),
            ("ws_keep_alive_ms", self.ws_keep_alive_ms, 1_000..=3_600_000),
            ("ws_max_operations", wide(self.ws_max_operations), 1..=1_000),
            (
                "database_pool_size",
                self.database_pool_size.map_or(1, u64::from),
                1..=1_000,
            ),
        ];
        for (key, value, range) in ranges {
            if !range.contains(&value) {
                return Err(ConfigError::Invalid {
                    key,
                    problem: format!("must be {} to {}, not {value}", range.start(), range.end()),
                });
            }
        }
        Ok(())
    }

    /// `/metrics` on a port of its own, and a collector over plain HTTP.
    fn validate_telemetry(&self) -> Result<(), ConfigError> {
        if let Some(metrics_addr) = self.metrics_addr
            && metrics_addr.port() != 0
            && metrics_addr.port() == self.addr.port()
            && (metrics_addr.ip() == self.addr.ip()
                || metrics_addr.ip().is_unspecified()
                || self.addr.ip().is_unspecified())
        {
            return Err(ConfigError::Invalid {
                key: "metrics_addr",
                problem: format!("must differ from addr ({}), not {metrics_addr}", self.addr),
            });
        }
        if let Some(endpoint) = &self.otlp_endpoint {
            let well_formed = endpoint
                .parse::<axum::http::Uri>()
                .is_ok_and(|uri| uri.scheme_str() == Some("http") && uri.host().is_some_and(|h| !h.is_empty()));
            if !well_formed {
                return Err(ConfigError::Invalid {
                    key: "otlp_endpoint",
                    problem: format!(
                        "must be an OTLP/HTTP collector's http:// address such as http://127.0.0.1:4318, not {endpoint:?}"
                    ),
                });
            }
        }
        Ok(())
    }

    /// The receiver is an http(s) URL with a secret to sign for it, and events are
    /// retried for 1 hour to 30 days.
    fn validate_webhooks(&self) -> Result<(), ConfigError> {
        let invalid = |key, problem: String| Err(ConfigError::Invalid { key, problem });
        if let Some(url) = &self.webhook_url {
            let parsed: Option<reqwest::Url> = url.parse().ok();
            if !parsed.is_some_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some()) {
                return invalid(
                    "webhook_url",
                    format!("must be an http:// or https:// URL, not {url:?}"),
                );
            }
            if self.webhook_secret.is_none() {
                return invalid("webhook_secret", "is required with webhook_url".into());
            }
        }
        if let Some(secret) = &self.webhook_secret
            && crate::webhooks::signature::signing_key(secret.expose()).is_none()
        {
            return invalid(
                "webhook_secret",
                "must be whsec_ and base64, or 24 characters or more".into(),
            );
        }
        if !(1..=720).contains(&self.webhook_retry_hours) {
            return invalid(
                "webhook_retry_hours",
                format!("must be 1 to 720, not {}", self.webhook_retry_hours),
            );
        }
        Ok(())
    }

    /// What the HTTP and WebSocket layers let through, as configured.
    pub fn limits(&self) -> Limits {
        Limits {
            body_bytes: self.max_body_bytes,
            timeout: std::time::Duration::from_millis(self.request_timeout_ms),
            batch: self.max_batch_operations,
            connection_init: std::time::Duration::from_millis(self.ws_init_timeout_ms),
            keep_alive: std::time::Duration::from_millis(self.ws_keep_alive_ms),
            subscriptions_per_connection: self.ws_max_operations,
            requests_per_account: self.max_requests_per_account,
        }
    }

    /// Campaign ids are short lowercase names, unique, and `launch` belongs to
    /// `launch_at` when that is set.
    fn validate_promotions(&self) -> Result<(), ConfigError> {
        let invalid = |problem: String| {
            Err(ConfigError::Invalid {
                key: "promotions",
                problem,
            })
        };
        let mut ids = BTreeSet::new();
        if self.launch_at.is_some() {
            ids.insert(LAUNCH_CAMPAIGN);
        }
        for p in &self.promotions {
            let well_formed = (1..=64).contains(&p.id.len())
                && p.id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !well_formed {
                return invalid(format!(
                    "the id {:?} must be 1 to 64 characters of a-z, 0-9 and -",
                    p.id
                ));
            }
            if !ids.insert(p.id.as_str()) {
                return invalid(format!(
                    "the id {:?} is used twice (`launch` is taken while launch_at is set)",
                    p.id
                ));
            }
            if !(1..=366).contains(&p.days) {
                return invalid(format!("{}: days must be 1 to 366, not {}", p.id, p.days));
            }
            if let Some((plan, credits)) = p.credits_per_slot.iter().find(|(_, c)| !(0..=10_000).contains(*c)) {
                return invalid(format!(
                    "{}: credits_per_slot of {plan:?} must be 0 to 10000, not {credits}",
                    p.id
                ));
            }
        }
        Ok(())
    }

    /// How long an idempotency key replays its first answer.
    /// Who renders the edits, the embedded default's built-in renderer when not set.
    pub fn renderer(&self) -> RendererKind {
        match (self.renderer, &self.database_url) {
            (Some(kind), _) => kind,
            (None, None) => RendererKind::Builtin,
            (None, Some(_)) => RendererKind::External,
        }
    }

    pub fn render_lease(&self) -> Duration {
        Duration::seconds(i64::from(self.render_lease_seconds))
    }

    pub fn render_give_up(&self) -> Duration {
        Duration::minutes(i64::from(self.render_give_up_minutes))
    }

    pub fn idempotency_retention(&self) -> Duration {
        Duration::hours(i64::from(self.idempotency_retention_hours))
    }

    /// How long before their expiry credits show as expiring soon.
    pub fn expiry_warning(&self) -> Duration {
        Duration::days(i64::from(self.expiry_warning_days))
    }
}
