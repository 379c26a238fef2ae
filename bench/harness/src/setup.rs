//! The data the scenarios run on, made through the API itself (`createAccount`,
//! `registerPhotos` with an OPS token; `purchasePack`, `applyChanges` as the member),
//! concurrently where there are many accounts.
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt, stream};
use hyper::body::Bytes;
use hyper::header::HeaderValue;
use serde_json::{Value, json};
use studio_bff::auth::{Auth, Role};
use studio_bff::config::Config;
use studio_bff::ids::Kind;

use crate::contract::Operations;
use crate::http::{Pool, bearer, graphql_body};
use crate::{Result, bail};

/// Requests in flight while setting up.
const SETUP_CONCURRENCY: usize = 16;
/// How long the minted tokens live: longer than any run.
const TOKEN_TTL: Duration = Duration::from_secs(24 * 3600);

/// What every scenario needs: tokens, ids, the operations.
pub struct Api {
    pub auth: Auth,
    pub ops: HeaderValue,
    pub operations: Operations,
    /// The global ids of the configured backgrounds.
    pub backgrounds: Vec<String>,
}

impl Api {
    pub fn new(secret: &str, operations: Operations) -> Result<Self> {
        let auth = Auth::new(secret);
        let ops = bearer(&auth.mint("bench-ops", Role::Ops, None, TOKEN_TTL)?);
        let backgrounds = Config::default()
            .backgrounds
            .iter()
            .map(|b| auth.ids().encode(Kind::Background, &b.id))
            .collect();
        Ok(Api {
            auth,
            ops,
            operations,
            backgrounds,
        })
    }

    /// An ApplyChanges request (the contract's document) on `photos` with background
    /// number `look`, under a key used once.
    pub fn apply_body(&self, photos: &[String], look: u32, key: &str) -> Bytes {
        let background = &self.backgrounds[look as usize % self.backgrounds.len()];
        graphql_body(
            self.operations.get("ApplyChanges"),
            "ApplyChanges",
            json!({"input": {"photoIds": photos, "backgroundId": background, "idempotencyKey": key}}),
        )
    }
}

/// A benchmark account and its member's token.
pub struct Account {
    pub number: i64,
    pub token: String,
    pub bearer: HeaderValue,
    /// Its photos, in groups that are applied together.
    pub groups: Vec<PhotoGroup>,
}

/// Photos applied together. Each apply takes the next background, so every photo
/// changes its look and is charged (an apply of the look a photo has is free).
pub struct PhotoGroup {
    pub photos: Vec<String>,
    looks: AtomicU32,
}

impl PhotoGroup {
    pub fn next_look(&self) -> u32 {
        self.looks.fetch_add(1, Ordering::Relaxed)
    }
}

/// `n` Professional Plus accounts with `slots` listing slots (10 monthly credits
/// each), each with groups of photos of the sizes `groups`.
pub async fn accounts(
    api: &Api,
    pool: &Pool,
    prefix: &str,
    n: usize,
    slots: i32,
    groups: &[usize],
) -> Result<Vec<Account>> {
    let mut made: Vec<(usize, Account)> = stream::iter(0..n)
        .map(|i| async move {
            let account = account(api, pool, &format!("{prefix} {i}"), slots, groups).await?;
            Ok::<_, crate::Error>((i, account))
        })
        .buffer_unordered(SETUP_CONCURRENCY)
        .try_collect()
        .await?;
    made.sort_by_key(|(i, _)| *i);
    Ok(made.into_iter().map(|(_, a)| a).collect())
}

/// One account as [`accounts`] makes them.
pub async fn account(api: &Api, pool: &Pool, name: &str, slots: i32, groups: &[usize]) -> Result<Account> {
    let ops = &api.operations;
    let created = pool
        .graphql(
            &api.ops,
            ops.get("CreateAccount"),
            "CreateAccount",
            json!({"name": name, "plan": "PROFESSIONAL_PLUS", "listingSlots": slots}),
        )
        .await?;
    no_user_errors(&created["data"]["createAccount"], "createAccount")?;
    let gid = created["data"]["createAccount"]["account"]["id"]
        .as_str()
        .ok_or("createAccount gave no id")?
        .to_owned();
    let number = api
        .auth
        .ids()
        .decode_i64(Kind::Account, &gid)
        .ok_or("createAccount gave an id that does not decode")?;
    with_photos(api, pool, number, groups).await
}

/// Account `number`, which exists, with new photos (registered through the API) in
/// groups of the sizes `groups`, and its member's token.
pub async fn with_photos(api: &Api, pool: &Pool, number: i64, groups: &[usize]) -> Result<Account> {
    let ops = &api.operations;
    let gid = api.auth.ids().encode(Kind::Account, number);
    let mut photo_ids = Vec::new();
    let total: usize = groups.iter().sum();
    // registerPhotos takes up to 500 at a time.
    for start in (0..total).step_by(500) {
        let photos: Vec<Value> = (start..total.min(start + 500))
            .map(|i| json!({"listingRef": format!("listing-{i}"), "originalUrl": format!("https://img.example/{number}/{i}.jpg")}))
            .collect();
        let registered = pool
            .graphql(
                &api.ops,
                ops.get("RegisterPhotos"),
                "RegisterPhotos",
                json!({"accountId": gid, "photos": photos}),
            )
            .await?;
        no_user_errors(&registered["data"]["registerPhotos"], "registerPhotos")?;
        for photo in registered["data"]["registerPhotos"]["photos"]
            .as_array()
            .ok_or("registerPhotos gave no photos")?
        {
            photo_ids.push(photo["id"].as_str().ok_or("a photo without id")?.to_owned());
        }
    }
    if photo_ids.len() != total {
        bail!("registerPhotos registered {} of {total} photos", photo_ids.len());
    }
    let token = member_token(api, number)?;
    let mut rest = photo_ids.as_slice();
    let mut photo_groups = Vec::new();
    for size in groups {
        let (photos, tail) = rest.split_at(*size);
        photo_groups.push(PhotoGroup {
            photos: photos.to_vec(),
            looks: AtomicU32::new(0),
        });
        rest = tail;
    }
    Ok(Account {
        number,
        bearer: bearer(&token),
        token,
        groups: photo_groups,
    })
}

/// A token of the member of account `number`.
fn member_token(api: &Api, number: i64) -> Result<String> {
    Ok(api.auth.mint("bench-member", Role::Member, Some(number), TOKEN_TTL)?)
}

/// The bearer of the member of account `number`.
pub fn member_bearer(api: &Api, number: i64) -> Result<HeaderValue> {
    Ok(bearer(&member_token(api, number)?))
}

/// Fails on a payload with `userErrors`.
pub fn no_user_errors(payload: &Value, what: &str) -> Result<()> {
    match payload["userErrors"].as_array() {
        Some(errors) if errors.is_empty() => Ok(()),
        _ => bail!("{what} refused: {payload}"),
    }
}

/// A billing-page account: `invoices` pack purchases and charges up to `entries`
/// ledger entries (the monthly grant is the first).
pub async fn billing_account(api: &Api, pool: &Pool, name: &str, entries: usize, invoices: usize) -> Result<Account> {
    if entries < invoices + 1 {
        bail!("{entries} entries cannot hold {invoices} purchases and the monthly grant");
    }
    // 50 slots: 500 monthly credits, more than the charges.
    let account = account(api, pool, name, 50, &[1]).await?;
    let pack = api.auth.ids().encode(Kind::CreditPack, "pro-small");
    for i in 0..invoices {
        let bought = pool
            .graphql(
                &account.bearer,
                api.operations.get("BuyPack"),
                "BuyPack",
                json!({"packId": pack, "idempotencyKey": format!("buy-{name}-{i}")}),
            )
            .await?;
        no_user_errors(&bought["data"]["purchasePack"], "purchasePack")?;
    }
    let group = &account.groups[0];
    for i in 0..entries - 1 - invoices {
        let (status, body) = pool
            .send(
                &account.bearer,
                api.apply_body(&group.photos, group.next_look(), &format!("charge-{name}-{i}")),
            )
            .await?;
        let answer = crate::http::judge(status, &body)?;
        no_user_errors(&answer["data"]["applyChanges"], "applyChanges")?;
        if answer["data"]["applyChanges"]["creditsCharged"] != 1 {
            bail!("a billing charge was not charged: {answer}");
        }
    }
    Ok(account)
}
