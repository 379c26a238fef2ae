//! The access matrix (issue 6, item 5). Every root field, every `Node` type and the
//! subscription, sent through the real router as each identity that must be refused:
//! no token, an expired token, a token with a wrong signature, a member naming another
//! account's objects, a member on OPS fields. The matrix is read from the schema's SDL:
//! a new root field, node type or ID argument without a case fails the test, so every
//! addition forces a decision. Both accounts' stored state is compared before and after
//! the refused requests: nothing may change. The render service (RENDERER) reads the
//! public fields, runs its own render mutations, and is FORBIDDEN everything else
//! (a member is FORBIDDEN the render mutations). The whole matrix runs twice: with
//! HS256 tokens of the service's secret, and with RS256 tokens of an identity provider
//! whose JWKS a server of the test's own serves on loopback (the app then configured
//! for the JWKS alone).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use crate::api_support::jwks::{JwksServer, KeyPair, Signer};
use crate::api_support::ws::{assert_closed_with, connect, initialise, receive, send, serve};
use crate::api_support::{SECRET, TestApp};
use crate::common::TestDb;
use async_graphql::parser::types::{BaseType, Type, TypeDefinition, TypeKind, TypeSystemDefinition};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use entity::enums::{LogoPosition, PlanCode};
use entity::{
    account, credit_note, edit, faulty_report, idempotency_record, invoice, ledger_entry, logo, lot, photo, render_job,
    webhook_event,
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use studio_bff::auth::{Auth, Claims, Jwks, Refresh, Role};
use studio_bff::config::Config;
use studio_bff::ids::Kind;
use studio_bff::ledger::{ApplyRequest, LogoPlacement};
use studio_bff::rules::balance::Breakdown;
use studio_bff::rules::catalog::packs_for;

/// How many cases the matrix has today: a matrix that silently shrinks fails.
const EXPECTED_CASES: usize = 200;

const MODERN: &str = "graphql-transport-ws";
const LEGACY: &str = "graphql-ws";

const VIEWER: &str = "query Viewer { viewer { userId role account { id name balance { available } logos { id name } \
    photos(first: 20) { totalCount edges { node { id listingRef currentEdit { id } } } } \
    ledger(first: 50) { edges { node { id amount } } } invoices(first: 10) { edges { node { id number } } } } } }";
const BACKGROUNDS: &str = "query Backgrounds { backgrounds { id name previewUrl } }";
const PACK_CATALOG: &str = "query PackCatalog { packCatalog { id name credits } }";
const NODE: &str = "query Node($id: ID!) { node(id: $id) { __typename id \
    ... on Account { name } ... on Photo { listingRef originalUrl } ... on PhotoEdit { creditsCharged } \
    ... on FaultyReport { reason } ... on Logo { name imageUrl } ... on LedgerEntry { amount description } \
    ... on Invoice { number } ... on CreditNote { number } ... on Background { name } ... on CreditPack { name } } }";
const ACCOUNT: &str = "query Account($id: ID!) { account(id: $id) { id name balance { available } } }";
const ACCOUNT_BY_EXTERNAL_ID: &str = "query ByExternalId($externalId: String!) { \
    accountByExternalId(externalId: $externalId) { id name externalId balance { available } } }";
/// The platform's id of account B.
const B_EXTERNAL_ID: &str = "platform-bravo";
const APPLY: &str = "mutation Apply($input: ApplyChangesInput!) { applyChanges(input: $input) { \
    creditsCharged edits { id photo { id } } unchanged { id } balance { available } userErrors { code message field } } }";
const QUOTE: &str = "query Quote($input: QuoteApplyInput!) { quoteApply(input: $input) { \
    credits unchanged { id } drawnFrom { bucket credits } available userErrors { code message field } } }";
const REVERT: &str = "mutation Revert($input: RevertPhotosInput!) { revertPhotos(input: $input) { \
    photos { id currentEdit { id } } balance { available } userErrors { code message field } } }";
const REPORT: &str = "mutation Report($input: ReportFaultyPhotoInput!) { reportFaultyPhoto(input: $input) { \
    report { id edit { id } } balance { available } userErrors { code message field } } }";
const PURCHASE: &str = "mutation Purchase($input: PurchasePackInput!) { purchasePack(input: $input) { \
    invoice { id number } lot { id } balance { available } userErrors { code message field } } }";
const ADD_LOGO: &str = "mutation AddLogo($input: AddLogoInput!) { addLogo(input: $input) { \
    logo { id name } userErrors { code message field } } }";
const CREATE_ACCOUNT: &str = "mutation CreateAccount($input: CreateAccountInput!) { createAccount(input: $input) { \
    account { id name } userErrors { code message field } } }";
const REGISTER_PHOTOS: &str = "mutation RegisterPhotos($input: RegisterPhotosInput!) { \
    registerPhotos(input: $input) { photos { id } userErrors { code message field } } }";
const SET_CLOCK: &str = "mutation SetClock($input: SetClockInput!) { setClock(input: $input) { \
    now userErrors { code message field } } }";
const UPDATE_SUBSCRIPTION: &str = "mutation UpdateSubscription($input: UpdateSubscriptionInput!) { \
    updateSubscription(input: $input) { account { id listingSlots plan { code } } userErrors { code message field } } }";
const CLAIM_JOBS: &str = "mutation Claim($input: ClaimRenderJobsInput!) { claimRenderJobs(input: $input) { \
    jobs { id edit { id } originalUrl } userErrors { code message field } } }";
const COMPLETE_RENDER: &str = "mutation Complete($input: CompleteRenderInput!) { completeRender(input: $input) { \
    edit { id status imageUrl } userErrors { code message field } } }";
const FAIL_RENDER: &str = "mutation Fail($input: FailRenderInput!) { failRender(input: $input) { \
    edit { id status failureReason refundedAt } userErrors { code message field } } }";
const FAULTY_REPORTS: &str = "query Queue { faultyReports(status: OPEN, first: 20) { \
    edges { node { id reason edit { id } } } pageInfo { hasNextPage } } }";
const RESOLVE_REPORT: &str = "mutation Resolve($input: ResolveReportInput!) { resolveReport(input: $input) { \
    report { id status } userErrors { code message field } } }";
const EDIT_CHANGED: &str = "subscription Edits { editChanged { id status imageUrl refundedAt } }";
const VOID_INVOICE: &str = "mutation Void($input: VoidInvoiceInput!) { voidInvoice(input: $input) { \
    creditNote { id number } userErrors { code message field } } }";
const WEBHOOK_EVENTS: &str = "query Events { webhookEvents(first: 50) { edges { node { id type status } } } }";
const REDELIVER_WEBHOOK: &str = "mutation Redeliver($input: RedeliverWebhookInput!) { redeliverWebhook(input: $input) { \
    event { id status } userErrors { code message field } } }";
const BALANCE_CHANGED: &str = "subscription Live { balanceChanged { available unlimited fairUse { used cap } asOf } }";
const OWN_BALANCE: &str =
    "query Own { viewer { account { balance { available unlimited fairUse { used cap } asOf } } } }";

on_both_databases! {
    async fn every_identity_is_refused_on_every_field_and_nothing_changes(db) {
        let started = std::time::Instant::now();
        run_matrix(World::new(TestApp::start(&db, Config::default()).await).await).await;
        eprintln!("access matrix ran in {:?}", started.elapsed());
    }
}

/// The same matrix with the identity provider's RS256 tokens, on a service that
/// checks tokens with its JWKS only (no HS256). It is about tokens, not storage: once,
/// on SQLite.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_matrix_holds_with_rs256_tokens_of_the_providers_jwks() {
    let db = TestDb::sqlite().await;
    let key = KeyPair::rsa("jwt-rsa-1.pem", "rsa-1");
    let provider = JwksServer::start(&[&key]).await;
    let jwks = Jwks::new(provider.url.parse().expect("a URL"), Refresh::default()).expect("a JWKS client");
    let auth = Auth::with_keys(None, SECRET).with_jwks(jwks);
    let app = TestApp::with_identity(&db, Config::default(), auth, Signer::Key(Box::new(key))).await;

    run_matrix(World::new(app).await).await;

    assert_eq!(provider.requests(), 1, "the key was fetched once and cached");
}

/// Who sends a request of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Identity {
    NoToken,
    Expired,
    WrongSignature,
    /// A member of account A naming account B's objects.
    OtherAccount,
    /// A member of account A on a field for OPS users.
    MemberOnOps,
    /// The render service, on any field.
    Renderer,
}

const BAD_TOKENS: [Identity; 3] = [Identity::NoToken, Identity::Expired, Identity::WrongSignature];

impl Identity {
    fn label(self) -> &'static str {
        match self {
            Identity::NoToken => "no token",
            Identity::Expired => "expired",
            Identity::WrongSignature => "wrong signature",
            Identity::OtherAccount => "other account",
            Identity::MemberOnOps => "member on OPS",
            Identity::Renderer => "renderer",
        }
    }
}

/// Whose claims a bad token carries: those that would succeed if it were accepted, so
/// that accepting one would show up as a change of account B or of the service.
#[derive(Debug, Clone, Copy)]
enum Target {
    MemberOfB,
    Ops,
    Renderer,
}

/// A GraphQL document and its variables.
#[derive(Debug, Clone)]
struct Request {
    document: &'static str,
    variables: Value,
}

fn request(document: &'static str, variables: Value) -> Request {
    Request { document, variables }
}

/// What a case expects.
#[derive(Debug)]
enum Check {
    /// HTTP 401 with exactly the service's `UNAUTHENTICATED` answer.
    Unauthenticated { token: Option<String>, request: Request },
    /// Member A naming B's object gets exactly the answer for a missing object of the
    /// same kind; `pointer` shows that answer's refusal.
    LikeMissing {
        foreign: Request,
        missing: Request,
        pointer: &'static str,
        expected: Value,
    },
    /// `by` gets one `FORBIDDEN` error and no data; with `missing`, exactly the
    /// answer for a missing id, so the refusal says nothing about B.
    Forbidden {
        by: Sender,
        request: Request,
        missing: Option<Request>,
    },
    /// Public: the renderer gets exactly what OPS gets, and something.
    RendererPublic { request: Request, pointer: &'static str },
    /// The renderer reads its own `userId` and `role`; its `account` is FORBIDDEN.
    RendererViewer,
    /// The renderer's subscription gets one `error`, FORBIDDEN.
    SocketForbidden {
        protocol: &'static str,
        document: &'static str,
    },
    /// Member A's `editChanged` starts with nothing: no edit of anyone's is sent.
    SocketQuiet { protocol: &'static str },
    /// Nothing in it belongs to an account: member A gets exactly what member B gets.
    Shared { request: Request, pointer: &'static str },
    /// No argument to misuse: member A's answer at `pointer` is its own account's.
    Own {
        request: Request,
        pointer: &'static str,
        expected: Value,
    },
    /// A write without an id: member A's new logo is on its own account. Runs after
    /// the state comparison, since it changes account A.
    OwnLogo { request: Request },
    /// The render service's own field: refused with `code` in `userErrors` (an input
    /// that changes nothing), not FORBIDDEN.
    RendererRefused { request: Request, code: &'static str },
    /// The WebSocket is closed 4403 `Forbidden` and nothing else is sent.
    SocketRefused {
        protocol: &'static str,
        document: &'static str,
        token: Option<String>,
    },
    /// Member A's subscription starts with its own account's balance.
    SocketOwnBalance { protocol: &'static str },
}

/// Whose valid token a [`Check::Forbidden`] sends.
#[derive(Debug, Clone, Copy)]
enum Sender {
    MemberA,
    Renderer,
}

/// One (operation, identity) pair of the matrix.
#[derive(Debug)]
struct Case {
    /// `Query.viewer`, `Mutation.applyChanges`, `Subscription.balanceChanged`, `Node.Photo`.
    field: String,
    identity: Identity,
    /// The ID argument this case fills with one of account B's ids (or a foreign id).
    id_path: Option<&'static str>,
    what: &'static str,
    check: Check,
}

impl Case {
    fn violation(&self, why: &str) -> String {
        format!("{} as {}: {}: {why}", self.field, self.identity.label(), self.what)
    }
}

/// What the matrix must cover, read from the schema's SDL.
#[derive(Debug, Default)]
struct Surface {
    /// Root fields as `Query.viewer`, and whether their description says "OPS only".
    fields: BTreeMap<String, bool>,
    /// The object types implementing `Node`.
    node_types: BTreeSet<String>,
    /// Every argument or input field of type ID (or a list of IDs) of a root field, as
    /// `Mutation.applyChanges.input.logo.logoId`.
    id_paths: BTreeSet<String>,
}

fn surface() -> Surface {
    let document = async_graphql::parser::parse_schema(studio_bff::graphql::sdl()).expect("the SDL parses");
    let types: BTreeMap<String, TypeDefinition> = document
        .definitions
        .into_iter()
        .filter_map(|definition| match definition {
            TypeSystemDefinition::Type(t) => Some((t.node.name.node.to_string(), t.node)),
            _ => None,
        })
        .collect();
    let mut surface = Surface::default();
    for root in ["Query", "Mutation", "Subscription"] {
        let Some(TypeKind::Object(object)) = types.get(root).map(|t| &t.kind) else {
            panic!("the schema has no object type {root}");
        };
        for field in &object.fields {
            let field = &field.node;
            let name = format!("{root}.{}", field.name.node);
            for argument in &field.arguments {
                let path = format!("{name}.{}", argument.node.name.node);
                collect_id_paths(&types, path, &argument.node.ty.node, &mut surface.id_paths, 0);
            }
            let ops = field
                .description
                .as_ref()
                .is_some_and(|d| d.node.trim_start().starts_with("OPS only"));
            surface.fields.insert(name, ops);
        }
    }
    for (name, definition) in &types {
        if let TypeKind::Object(object) = &definition.kind
            && object.implements.iter().any(|i| i.node.as_str() == "Node")
        {
            surface.node_types.insert(name.clone());
        }
    }
    surface
}

fn named(ty: &Type) -> &str {
    match &ty.base {
        BaseType::Named(name) => name.as_str(),
        BaseType::List(inner) => named(inner),
    }
}

fn collect_id_paths(
    types: &BTreeMap<String, TypeDefinition>,
    path: String,
    ty: &Type,
    into: &mut BTreeSet<String>,
    depth: usize,
) {
    assert!(depth < 8, "{path}: input types nest too deep to enumerate");
    let name = named(ty);
    if name == "ID" {
        into.insert(path);
    } else if let Some(TypeKind::InputObject(input)) = types.get(name).map(|t| &t.kind) {
        for field in &input.fields {
            let nested = format!("{path}.{}", field.node.name.node);
            collect_id_paths(types, nested, &field.node.ty.node, into, depth + 1);
        }
    }
}

/// What one account holds, as stored.
#[derive(Debug, Clone, PartialEq)]
struct Holdings {
    account: account::Model,
    balance: Breakdown,
    entries: Vec<ledger_entry::Model>,
    lots: Vec<lot::Model>,
    /// With their current edit.
    photos: Vec<photo::Model>,
    edits: Vec<edit::Model>,
    reports: Vec<faulty_report::Model>,
    logos: Vec<logo::Model>,
    invoices: Vec<invoice::Model>,
    credit_notes: Vec<credit_note::Model>,
    webhook_events: Vec<webhook_event::Model>,
    idempotency_records: Vec<idempotency_record::Model>,
    render_jobs: Vec<render_job::Model>,
}

/// Both accounts, every account there is, and the service's clock.
#[derive(Debug, Clone, PartialEq)]
struct Snapshot {
    accounts: Vec<account::Model>,
    now: DateTime<Utc>,
    a: Holdings,
    b: Holdings,
}

/// The rows of `$entity` that belong to account `$id`, oldest first.
macro_rules! rows_of {
    ($db:expr, $entity:ident, $id:expr) => {
        $entity::Entity::find()
            .filter($entity::Column::AccountId.eq($id))
            .order_by_asc($entity::Column::Id)
            .all($db)
            .await
            .expect(concat!("the ", stringify!($entity), " rows"))
    };
}

/// Two accounts with something of every kind, and the router serving them.
struct World {
    app: TestApp,
    addr: SocketAddr,
    a: account::Model,
    b: account::Model,
    a_edited: String,
    a_plain: String,
    b_edited: String,
    b_plain: String,
    b_edit: String,
    b_report: String,
    b_logo: String,
    b_entry: String,
    b_invoice: String,
    b_lot: String,
    /// A claim of the render job of B's edit.
    b_job: String,
    a_invoice: String,
    /// B's second pack's invoice, voided by `b_credit_note`.
    b_voided: String,
    b_credit_note: String,
    a_event: String,
    /// B's first event for other systems, FAILED.
    b_event: String,
}

impl World {
    /// A (Professional, pro packs) and B (Basic, basic packs): each with an edited and a
    /// plain photo, a logo, a purchased pack and its invoice; B's edit also carries its
    /// logo and a faulty report.
    async fn new(app: TestApp) -> World {
        let ledger = &app.ledger;
        let a = ledger
            .create_account("Alpha Autos", PlanCode::Professional, 2, None)
            .await
            .expect("A");
        let b = ledger
            .create_account("Bravo Motors", PlanCode::Basic, 2, Some(B_EXTERNAL_ID))
            .await
            .expect("B");
        let a_photos = register(&app, a.id, "alpha").await;
        let b_photos = register(&app, b.id, "bravo").await;
        ledger
            .add_logo(a.id, "Alpha logo", "https://img.example/alpha-logo.png")
            .await
            .expect("A's logo");
        let apply = |photo: i64, background: &str, logo: Option<i64>, key: &str| ApplyRequest {
            photo_ids: vec![photo],
            background_id: background.into(),
            logo: logo.map(|logo_id| LogoPlacement {
                logo_id,
                position: LogoPosition::TopLeft,
            }),
            idempotency_key: key.into(),
        };
        ledger
            .apply_changes(a.id, &apply(a_photos[0].id, "studio-white", None, "a-apply"))
            .await
            .expect("A's edit");
        let a_bought = ledger
            .purchase_pack(a.id, "pro-small", "a-buy")
            .await
            .expect("A's pack");
        let b_bought = ledger
            .purchase_pack(b.id, "basic-small", "b-buy")
            .await
            .expect("B's pack");
        let b_logo = ledger
            .add_logo(b.id, "Bravo logo", "https://img.example/bravo-logo.png")
            .await
            .expect("B's logo");
        let b_applied = ledger
            .apply_changes(b.id, &apply(b_photos[0].id, "showroom", Some(b_logo.id), "b-apply"))
            .await
            .expect("B's edit")
            .outcome;
        let b_report = ledger
            .report_faulty_photo(b.id, b_photos[0].id, Some("Bravo: logo blurred"))
            .await
            .expect("B's report");
        let b_voided = ledger
            .purchase_pack(b.id, "basic-medium", "b-buy-2")
            .await
            .expect("B's second pack")
            .outcome
            .invoice_id;
        let b_credit_note = ledger
            .void_invoice(b_voided, "Bought by mistake")
            .await
            .expect("B's credit note");
        let b_entry = ledger
            .entries(b.id)
            .await
            .expect("B's ledger")
            .last()
            .expect("an entry")
            .id;
        let b_job = render_job::Entity::find()
            .filter(render_job::Column::EditId.eq(b_applied.edit_ids[0]))
            .one(app.ledger.db())
            .await
            .expect("B's render job")
            .expect("a job per charged edit")
            .id;
        let first_event = |account_id: i64| {
            let db = ledger.db().clone();
            async move {
                webhook_event::Entity::find()
                    .filter(webhook_event::Column::AccountId.eq(account_id))
                    .order_by_asc(webhook_event::Column::Id)
                    .one(&db)
                    .await
                    .expect("the events")
                    .expect("an event")
                    .id
            }
        };
        let (a_event, b_event) = (first_event(a.id).await, first_event(b.id).await);
        ledger
            .db()
            .execute_unprepared(&format!(
                "UPDATE webhook_events SET status = 'FAILED' WHERE id = {b_event}"
            ))
            .await
            .expect("B's event given up");
        let addr = serve(&app).await;
        let gid = |kind, key: i64| app.gid(kind, key);
        World {
            a_edited: gid(Kind::Photo, a_photos[0].id),
            a_plain: gid(Kind::Photo, a_photos[1].id),
            b_edited: gid(Kind::Photo, b_photos[0].id),
            b_plain: gid(Kind::Photo, b_photos[1].id),
            b_edit: gid(Kind::PhotoEdit, b_applied.edit_ids[0]),
            b_report: gid(Kind::FaultyReport, b_report.report.id),
            b_logo: gid(Kind::Logo, b_logo.id),
            b_entry: gid(Kind::LedgerEntry, b_entry),
            b_invoice: gid(Kind::Invoice, b_bought.outcome.invoice_id),
            b_lot: gid(Kind::PurchasedLot, b_bought.outcome.lot_id),
            b_job: app.gid(Kind::RenderJob, format!("{b_job}.1")),
            a_invoice: gid(Kind::Invoice, a_bought.outcome.invoice_id),
            b_voided: gid(Kind::Invoice, b_voided),
            b_credit_note: gid(Kind::CreditNote, b_credit_note.id),
            a_event: gid(Kind::WebhookEvent, a_event),
            b_event: gid(Kind::WebhookEvent, b_event),
            addr,
            a,
            b,
            app,
        }
    }

    fn gid(&self, kind: Kind, key: impl std::fmt::Display) -> String {
        self.app.gid(kind, key)
    }

    /// The id of a record of `kind` that does not exist.
    fn missing(&self, kind: Kind) -> String {
        match kind {
            Kind::Background | Kind::CreditPack => self.gid(kind, "no-such-thing"),
            Kind::RenderJob => self.gid(kind, "999999999.1"),
            _ => self.gid(kind, 999_999_999),
        }
    }

    fn showroom(&self) -> String {
        self.gid(Kind::Background, "showroom")
    }

    // ---- tokens ----

    fn claims(&self, target: Target, exp: i64) -> Claims {
        match target {
            Target::MemberOfB => Claims {
                sub: "user-b".into(),
                account_id: Some(self.gid(Kind::Account, self.b.id)),
                role: Role::Member,
                exp,
            },
            Target::Ops => Claims {
                sub: "ops-1".into(),
                account_id: None,
                role: Role::Ops,
                exp,
            },
            Target::Renderer => Claims {
                sub: "render-1".into(),
                account_id: None,
                role: Role::Renderer,
                exp,
            },
        }
    }

    /// The token `identity` sends for a request that `target` could make.
    fn bad_token(&self, identity: Identity, target: Target) -> Option<String> {
        let now = Utc::now().timestamp();
        match (identity, target) {
            (Identity::NoToken, _) => None,
            (Identity::Expired, _) => Some(self.signed(&self.claims(target, now - 60))),
            (Identity::WrongSignature, _) => Some(with_signature_of(
                &self.signed(&self.claims(target, now + 3600)),
                &self.app.member(self.a.id),
            )),
            (Identity::OtherAccount | Identity::MemberOnOps | Identity::Renderer, _) => {
                unreachable!("a member's or the renderer's token is valid")
            }
        }
    }

    /// A token of `claims` signed as the app's tokens are (HS256 or the provider's key).
    fn signed(&self, claims: &Claims) -> String {
        self.app.signer.sign(claims)
    }

    // ---- the matrix ----

    /// Every case the schema needs; the fields and node types nobody decided on.
    fn cases(&self, surface: &Surface) -> (Vec<Case>, Vec<String>) {
        let mut cases = Vec::new();
        let mut undecided = Vec::new();
        let node_fields = surface.node_types.iter().map(|t| format!("Node.{t}"));
        for field in surface.fields.keys().cloned().chain(node_fields) {
            let mut decided = true;
            if field.starts_with("Subscription.") {
                cases.extend(self.socket_refusals(&field));
            } else if field == "Query.node" {
                // Sent with each bad token once per node type, as `Node.<type>`.
            } else if let Some((target, attack)) = self.attack(&field) {
                for identity in BAD_TOKENS {
                    cases.push(Case {
                        field: field.clone(),
                        identity,
                        id_path: None,
                        what: "a request that would succeed with a valid token",
                        check: Check::Unauthenticated {
                            token: self.bad_token(identity, target),
                            request: attack.clone(),
                        },
                    });
                }
            } else {
                decided = false;
            }
            match self.member_cases(&field) {
                Some(member) => cases.extend(member),
                None => decided = false,
            }
            match self.renderer_cases(&field) {
                Some(renderer) => cases.extend(renderer),
                None => decided = false,
            }
            if !decided {
                undecided.push(field);
            }
        }
        (cases, undecided)
    }

    /// The request a bad token sends for `field`, and whose claims it carries: one that
    /// would read B's data or change B or the service if the token were accepted.
    fn attack(&self, field: &str) -> Option<(Target, Request)> {
        let b = self.gid(Kind::Account, self.b.id);
        Some(match field {
            "Query.viewer" => (Target::MemberOfB, request(VIEWER, json!({}))),
            "Query.backgrounds" => (Target::MemberOfB, request(BACKGROUNDS, json!({}))),
            "Query.packCatalog" => (Target::MemberOfB, request(PACK_CATALOG, json!({}))),
            "Query.account" => (Target::Ops, request(ACCOUNT, json!({"id": b}))),
            "Query.accountByExternalId" => (
                Target::Ops,
                request(ACCOUNT_BY_EXTERNAL_ID, json!({"externalId": B_EXTERNAL_ID})),
            ),
            "Mutation.addLogo" => (
                Target::MemberOfB,
                request(
                    ADD_LOGO,
                    json!({"input": {"name": "Forged logo", "imageUrl": "https://img.example/forged.png"}}),
                ),
            ),
            "Mutation.applyChanges" => (
                Target::MemberOfB,
                self.apply(&[&self.b_plain], &self.showroom(), None, "forged-apply"),
            ),
            "Query.quoteApply" => (Target::MemberOfB, self.quote(&[&self.b_plain], &self.showroom(), None)),
            "Mutation.purchasePack" => (
                Target::MemberOfB,
                self.purchase(&self.gid(Kind::CreditPack, "basic-small"), "forged-buy"),
            ),
            "Mutation.reportFaultyPhoto" => (Target::MemberOfB, self.report(&self.b_edited)),
            "Mutation.revertPhotos" => (Target::MemberOfB, self.revert(&[&self.b_edited])),
            "Mutation.createAccount" => (
                Target::Ops,
                request(
                    CREATE_ACCOUNT,
                    json!({"input": {"name": "Forged", "plan": "BASIC", "listingSlots": 1}}),
                ),
            ),
            "Mutation.registerPhotos" => (Target::Ops, register_photos(&b)),
            "Mutation.setClock" => (
                Target::Ops,
                request(SET_CLOCK, json!({"input": {"now": "2027-02-15T00:00:00Z"}})),
            ),
            "Mutation.updateSubscription" => (Target::Ops, update_subscription(&b)),
            "Query.faultyReports" => (Target::Ops, request(FAULTY_REPORTS, json!({}))),
            "Mutation.resolveReport" => (Target::Ops, self.resolve_report(&self.b_report)),
            "Mutation.claimRenderJobs" => (Target::Renderer, request(CLAIM_JOBS, json!({"input": {"max": 100}}))),
            "Mutation.completeRender" => (Target::Renderer, self.complete_render(&self.b_job)),
            "Mutation.failRender" => (Target::Renderer, self.fail_render(&self.b_job)),
            "Mutation.voidInvoice" => (Target::Ops, void_invoice(&self.b_voided)),
            "Mutation.redeliverWebhook" => (Target::Ops, redeliver_webhook(&self.b_event)),
            "Query.webhookEvents" => (Target::Ops, request(WEBHOOK_EVENTS, json!({}))),
            _ => {
                let node_type = field.strip_prefix("Node.")?;
                let id = match self.foreign_node(node_type) {
                    Some((_, id)) => id,
                    None => self.shared_node(node_type)?,
                };
                (Target::MemberOfB, request(NODE, json!({"id": id})))
            }
        })
    }

    /// Account B's record of a node type that belongs to an account.
    fn foreign_node(&self, node_type: &str) -> Option<(Kind, String)> {
        Some(match node_type {
            "Account" => (Kind::Account, self.gid(Kind::Account, self.b.id)),
            "Photo" => (Kind::Photo, self.b_edited.clone()),
            "PhotoEdit" => (Kind::PhotoEdit, self.b_edit.clone()),
            "FaultyReport" => (Kind::FaultyReport, self.b_report.clone()),
            "Logo" => (Kind::Logo, self.b_logo.clone()),
            "LedgerEntry" => (Kind::LedgerEntry, self.b_entry.clone()),
            "Invoice" => (Kind::Invoice, self.b_invoice.clone()),
            "CreditNote" => (Kind::CreditNote, self.b_credit_note.clone()),
            _ => return None,
        })
    }

    /// A node of a type that belongs to no account: the studio's configuration.
    fn shared_node(&self, node_type: &str) -> Option<String> {
        match node_type {
            "Background" => Some(self.showroom()),
            "CreditPack" => Some(self.gid(Kind::CreditPack, "basic-small")),
            _ => None,
        }
    }

    /// The cases of member A on `field`: B's ids, or OPS fields.
    fn member_cases(&self, field: &str) -> Option<Vec<Case>> {
        use Identity::{MemberOnOps, OtherAccount};
        let case = |identity, id_path, what, check| Case {
            field: field.to_owned(),
            identity,
            id_path,
            what,
            check,
        };
        let like_missing = |foreign, missing, pointer, expected| Check::LikeMissing {
            foreign,
            missing,
            pointer,
            expected,
        };
        let (a, b) = (self.gid(Kind::Account, self.a.id), self.gid(Kind::Account, self.b.id));
        let missing_account = self.missing(Kind::Account);
        let showroom = self.showroom();
        let missing_photo = self.missing(Kind::Photo);
        let cases = match field {
            "Query.viewer" => vec![case(
                OtherAccount,
                None,
                "the viewer's account is A's own",
                Check::Own {
                    request: request(VIEWER, json!({})),
                    pointer: "/data/viewer/account/id",
                    expected: json!(a),
                },
            )],
            "Query.backgrounds" => vec![case(
                OtherAccount,
                None,
                "the same backgrounds for every account",
                Check::Shared {
                    request: request(BACKGROUNDS, json!({})),
                    pointer: "/data/backgrounds",
                },
            )],
            "Query.packCatalog" => {
                let config = self.app.ledger.config();
                let own: Vec<Value> = packs_for(&config.packs, self.a.plan)
                    .map(|p| json!({"id": self.gid(Kind::CreditPack, &p.id), "name": p.name, "credits": p.credits}))
                    .collect();
                vec![case(
                    OtherAccount,
                    None,
                    "the catalog of A's plan, not B's",
                    Check::Own {
                        request: request(PACK_CATALOG, json!({})),
                        pointer: "/data/packCatalog",
                        expected: Value::Array(own),
                    },
                )]
            }
            "Query.node" => vec![case(
                OtherAccount,
                Some("Query.node.id"),
                "B's purchased lot",
                like_missing(
                    request(NODE, json!({"id": self.b_lot})),
                    request(NODE, json!({"id": self.missing(Kind::PurchasedLot)})),
                    "/data/node",
                    Value::Null,
                ),
            )],
            "Query.account" => vec![
                case(
                    MemberOnOps,
                    Some("Query.account.id"),
                    "B's account",
                    Check::Forbidden {
                        by: Sender::MemberA,
                        request: request(ACCOUNT, json!({"id": b})),
                        missing: Some(request(ACCOUNT, json!({"id": missing_account}))),
                    },
                ),
                case(
                    MemberOnOps,
                    Some("Query.account.id"),
                    "A's own account",
                    Check::Forbidden {
                        by: Sender::MemberA,
                        request: request(ACCOUNT, json!({"id": a})),
                        missing: None,
                    },
                ),
            ],
            "Mutation.applyChanges" => {
                let photo_ids = Some("Mutation.applyChanges.input.photoIds");
                let b_request = |key| self.apply(&[&self.b_edited], &showroom, Some((&self.b_logo, "TOP_LEFT")), key);
                vec![
                    case(
                        OtherAccount,
                        photo_ids,
                        "B's photo",
                        like_missing(
                            self.apply(&[&self.b_plain], &showroom, None, "k-1"),
                            self.apply(&[&missing_photo], &showroom, None, "k-1"),
                            "/data/applyChanges/userErrors/0/code",
                            json!("PHOTO_NOT_FOUND"),
                        ),
                    ),
                    case(
                        OtherAccount,
                        photo_ids,
                        "A's photo and B's photo in one batch",
                        like_missing(
                            self.apply(&[&self.a_plain, &self.b_plain], &showroom, None, "k-2"),
                            self.apply(&[&self.a_plain, &missing_photo], &showroom, None, "k-2"),
                            "/data/applyChanges/userErrors/0/code",
                            json!("PHOTO_NOT_FOUND"),
                        ),
                    ),
                    case(
                        OtherAccount,
                        Some("Mutation.applyChanges.input.logo.logoId"),
                        "B's logo on A's photo",
                        like_missing(
                            self.apply(&[&self.a_plain], &showroom, Some((&self.b_logo, "TOP_LEFT")), "k-3"),
                            self.apply(
                                &[&self.a_plain],
                                &showroom,
                                Some((&self.missing(Kind::Logo), "TOP_LEFT")),
                                "k-3",
                            ),
                            "/data/applyChanges/userErrors/0/code",
                            json!("LOGO_NOT_FOUND"),
                        ),
                    ),
                    case(
                        OtherAccount,
                        Some("Mutation.applyChanges.input.backgroundId"),
                        "B's photo id as the background",
                        like_missing(
                            self.apply(&[&self.a_plain], &self.b_edited, None, "k-4"),
                            self.apply(&[&self.a_plain], &self.missing(Kind::Background), None, "k-4"),
                            "/data/applyChanges/userErrors/0/code",
                            json!("BACKGROUND_NOT_FOUND"),
                        ),
                    ),
                    case(
                        OtherAccount,
                        photo_ids,
                        "B's idempotency key with B's own request is not replayed",
                        like_missing(
                            b_request("b-apply"),
                            b_request("fresh-key"),
                            "/data/applyChanges/userErrors/0/code",
                            json!("LOGO_NOT_FOUND"),
                        ),
                    ),
                ]
            }
            "Query.quoteApply" => {
                let photo_ids = Some("Query.quoteApply.input.photoIds");
                let code = "/data/quoteApply/userErrors/0/code";
                vec![
                    case(
                        OtherAccount,
                        photo_ids,
                        "B's photo",
                        like_missing(
                            self.quote(&[&self.b_plain], &showroom, None),
                            self.quote(&[&missing_photo], &showroom, None),
                            code,
                            json!("PHOTO_NOT_FOUND"),
                        ),
                    ),
                    case(
                        OtherAccount,
                        photo_ids,
                        "A's photo and B's photo in one batch",
                        like_missing(
                            self.quote(&[&self.a_plain, &self.b_plain], &showroom, None),
                            self.quote(&[&self.a_plain, &missing_photo], &showroom, None),
                            code,
                            json!("PHOTO_NOT_FOUND"),
                        ),
                    ),
                    case(
                        OtherAccount,
                        Some("Query.quoteApply.input.logo.logoId"),
                        "B's logo on A's photo",
                        like_missing(
                            self.quote(&[&self.a_plain], &showroom, Some((&self.b_logo, "TOP_LEFT"))),
                            self.quote(
                                &[&self.a_plain],
                                &showroom,
                                Some((&self.missing(Kind::Logo), "TOP_LEFT")),
                            ),
                            code,
                            json!("LOGO_NOT_FOUND"),
                        ),
                    ),
                    case(
                        OtherAccount,
                        Some("Query.quoteApply.input.backgroundId"),
                        "B's photo id as the background",
                        like_missing(
                            self.quote(&[&self.a_plain], &self.b_edited, None),
                            self.quote(&[&self.a_plain], &self.missing(Kind::Background), None),
                            code,
                            json!("BACKGROUND_NOT_FOUND"),
                        ),
                    ),
                ]
            }
            "Mutation.revertPhotos" => {
                let photo_ids = Some("Mutation.revertPhotos.input.photoIds");
                vec![
                    case(
                        OtherAccount,
                        photo_ids,
                        "B's edited photo",
                        like_missing(
                            self.revert(&[&self.b_edited]),
                            self.revert(&[&missing_photo]),
                            "/data/revertPhotos/userErrors/0/code",
                            json!("PHOTO_NOT_FOUND"),
                        ),
                    ),
                    case(
                        OtherAccount,
                        photo_ids,
                        "A's and B's edited photos in one batch",
                        like_missing(
                            self.revert(&[&self.a_edited, &self.b_edited]),
                            self.revert(&[&self.a_edited, &missing_photo]),
                            "/data/revertPhotos/userErrors/0/code",
                            json!("PHOTO_NOT_FOUND"),
                        ),
                    ),
                ]
            }
            "Mutation.reportFaultyPhoto" => vec![case(
                OtherAccount,
                Some("Mutation.reportFaultyPhoto.input.photoId"),
                "B's edited photo",
                like_missing(
                    self.report(&self.b_edited),
                    self.report(&missing_photo),
                    "/data/reportFaultyPhoto/userErrors/0/code",
                    json!("PHOTO_NOT_FOUND"),
                ),
            )],
            "Mutation.purchasePack" => {
                let basic = self.gid(Kind::CreditPack, "basic-small");
                vec![
                    case(
                        OtherAccount,
                        Some("Mutation.purchasePack.input.packId"),
                        "a pack of B's plan only",
                        like_missing(
                            self.purchase(&basic, "k-5"),
                            self.purchase(&self.missing(Kind::CreditPack), "k-5"),
                            "/data/purchasePack/userErrors/0/code",
                            json!("PACK_NOT_AVAILABLE"),
                        ),
                    ),
                    case(
                        OtherAccount,
                        Some("Mutation.purchasePack.input.packId"),
                        "B's idempotency key with B's own request is not replayed",
                        like_missing(
                            self.purchase(&basic, "b-buy"),
                            self.purchase(&basic, "fresh-key"),
                            "/data/purchasePack/userErrors/0/code",
                            json!("PACK_NOT_AVAILABLE"),
                        ),
                    ),
                ]
            }
            "Mutation.addLogo" => vec![case(
                OtherAccount,
                None,
                "the new logo is A's",
                Check::OwnLogo {
                    request: request(
                        ADD_LOGO,
                        json!({"input": {"name": "Alpha second logo", "imageUrl": "https://img.example/a2.png"}}),
                    ),
                },
            )],
            "Mutation.createAccount" => vec![case(
                MemberOnOps,
                None,
                "a new account",
                Check::Forbidden {
                    by: Sender::MemberA,
                    request: request(
                        CREATE_ACCOUNT,
                        json!({"input": {"name": "Mine", "plan": "PREMIUM", "listingSlots": 99}}),
                    ),
                    missing: None,
                },
            )],
            "Mutation.registerPhotos" | "Mutation.updateSubscription" => {
                let (make, id_path): (fn(&str) -> Request, _) = if field == "Mutation.registerPhotos" {
                    (register_photos, Some("Mutation.registerPhotos.input.accountId"))
                } else {
                    (update_subscription, Some("Mutation.updateSubscription.input.accountId"))
                };
                vec![
                    case(
                        MemberOnOps,
                        id_path,
                        "B's account",
                        Check::Forbidden {
                            by: Sender::MemberA,
                            request: make(&b),
                            missing: Some(make(&missing_account)),
                        },
                    ),
                    case(
                        MemberOnOps,
                        id_path,
                        "A's own account",
                        Check::Forbidden {
                            by: Sender::MemberA,
                            request: make(&a),
                            missing: None,
                        },
                    ),
                ]
            }
            "Mutation.voidInvoice" => {
                let id_path = Some("Mutation.voidInvoice.input.invoiceId");
                vec![
                    case(
                        MemberOnOps,
                        id_path,
                        "B's invoice",
                        Check::Forbidden {
                            by: Sender::MemberA,
                            request: void_invoice(&self.b_invoice),
                            missing: Some(void_invoice(&self.missing(Kind::Invoice))),
                        },
                    ),
                    case(
                        MemberOnOps,
                        id_path,
                        "A's own invoice",
                        Check::Forbidden {
                            by: Sender::MemberA,
                            request: void_invoice(&self.a_invoice),
                            missing: None,
                        },
                    ),
                ]
            }
            "Mutation.redeliverWebhook" => {
                let id_path = Some("Mutation.redeliverWebhook.input.eventId");
                vec![
                    case(
                        MemberOnOps,
                        id_path,
                        "B's event",
                        Check::Forbidden {
                            by: Sender::MemberA,
                            request: redeliver_webhook(&self.b_event),
                            missing: Some(redeliver_webhook(&self.missing(Kind::WebhookEvent))),
                        },
                    ),
                    case(
                        MemberOnOps,
                        id_path,
                        "A's own event",
                        Check::Forbidden {
                            by: Sender::MemberA,
                            request: redeliver_webhook(&self.a_event),
                            missing: None,
                        },
                    ),
                ]
            }
            "Query.webhookEvents" => vec![case(
                MemberOnOps,
                None,
                "every account's events",
                Check::Forbidden {
                    by: Sender::MemberA,
                    request: request(WEBHOOK_EVENTS, json!({})),
                    missing: None,
                },
            )],
            "Query.accountByExternalId" => vec![case(
                MemberOnOps,
                None,
                "B's account by its platform id",
                Check::Forbidden {
                    by: Sender::MemberA,
                    request: request(ACCOUNT_BY_EXTERNAL_ID, json!({"externalId": B_EXTERNAL_ID})),
                    missing: Some(request(
                        ACCOUNT_BY_EXTERNAL_ID,
                        json!({"externalId": "no-such-account"}),
                    )),
                },
            )],
            "Query.faultyReports" => vec![case(
                MemberOnOps,
                None,
                "every account's reports",
                Check::Forbidden {
                    by: Sender::MemberA,
                    request: request(FAULTY_REPORTS, json!({})),
                    missing: None,
                },
            )],
            "Mutation.resolveReport" => vec![case(
                MemberOnOps,
                Some("Mutation.resolveReport.input.reportId"),
                "B's report",
                Check::Forbidden {
                    by: Sender::MemberA,
                    request: self.resolve_report(&self.b_report),
                    missing: Some(self.resolve_report(&self.missing(Kind::FaultyReport))),
                },
            )],
            "Mutation.claimRenderJobs" => vec![case(
                OtherAccount,
                None,
                "the render queue is the render service's",
                Check::Forbidden {
                    by: Sender::MemberA,
                    request: request(CLAIM_JOBS, json!({"input": {"max": 100}})),
                    missing: None,
                },
            )],
            "Mutation.completeRender" => vec![case(
                OtherAccount,
                Some("Mutation.completeRender.input.jobId"),
                "a render result is the render service's",
                Check::Forbidden {
                    by: Sender::MemberA,
                    request: self.complete_render(&self.b_job),
                    missing: Some(self.complete_render(&self.missing(Kind::RenderJob))),
                },
            )],
            "Mutation.failRender" => vec![case(
                OtherAccount,
                Some("Mutation.failRender.input.jobId"),
                "a render result is the render service's",
                Check::Forbidden {
                    by: Sender::MemberA,
                    request: self.fail_render(&self.b_job),
                    missing: Some(self.fail_render(&self.missing(Kind::RenderJob))),
                },
            )],
            "Mutation.setClock" => vec![case(
                MemberOnOps,
                None,
                "moving the clock",
                Check::Forbidden {
                    by: Sender::MemberA,
                    request: request(SET_CLOCK, json!({"input": {"now": "2027-02-15T00:00:00Z"}})),
                    missing: None,
                },
            )],
            "Subscription.editChanged" => [MODERN, LEGACY]
                .into_iter()
                .map(|protocol| {
                    case(
                        OtherAccount,
                        None,
                        "A's edits only, from now on",
                        Check::SocketQuiet { protocol },
                    )
                })
                .collect(),
            "Subscription.balanceChanged" => [MODERN, LEGACY]
                .into_iter()
                .map(|protocol| {
                    case(
                        OtherAccount,
                        None,
                        "the balance is A's own",
                        Check::SocketOwnBalance { protocol },
                    )
                })
                .collect(),
            _ => {
                let node_type = field.strip_prefix("Node.")?;
                let check = if let Some((kind, foreign)) = self.foreign_node(node_type) {
                    like_missing(
                        request(NODE, json!({"id": foreign})),
                        request(NODE, json!({"id": self.missing(kind)})),
                        "/data/node",
                        Value::Null,
                    )
                } else {
                    Check::Shared {
                        request: request(NODE, json!({"id": self.shared_node(node_type)?})),
                        pointer: "/data/node",
                    }
                };
                let (id_path, what) = if matches!(check, Check::Shared { .. }) {
                    (None, "the studio's configuration, the same for every account")
                } else {
                    (Some("Query.node.id"), "B's record")
                };
                vec![case(OtherAccount, id_path, what, check)]
            }
        };
        Some(cases)
    }

    /// The cases of the render service on `field`: the public fields answer it as
    /// they answer OPS, every other one is FORBIDDEN (and, for a foreign id, exactly as
    /// for a missing one).
    fn renderer_cases(&self, field: &str) -> Option<Vec<Case>> {
        let case = |id_path, what, check| Case {
            field: field.to_owned(),
            identity: Identity::Renderer,
            id_path,
            what,
            check,
        };
        let forbidden = |request, missing| Check::Forbidden {
            by: Sender::Renderer,
            request,
            missing,
        };
        Some(match field {
            "Query.node" => Vec::new(),
            "Query.viewer" => vec![case(None, "its own userId and role, no account", Check::RendererViewer)],
            "Subscription.editChanged" => [MODERN, LEGACY]
                .into_iter()
                .map(|protocol| {
                    case(
                        None,
                        "no edits to watch",
                        Check::SocketForbidden {
                            protocol,
                            document: EDIT_CHANGED,
                        },
                    )
                })
                .collect(),
            "Mutation.claimRenderJobs" => vec![case(
                None,
                "its own field, with a max out of range",
                Check::RendererRefused {
                    request: request(CLAIM_JOBS, json!({"input": {"max": 0}})),
                    code: "INVALID_INPUT",
                },
            )],
            "Mutation.completeRender" => vec![case(
                None,
                "its own field, for a job that does not exist",
                Check::RendererRefused {
                    request: self.complete_render(&self.missing(Kind::RenderJob)),
                    code: "JOB_NOT_FOUND",
                },
            )],
            "Mutation.failRender" => vec![case(
                None,
                "its own field, for a job that does not exist",
                Check::RendererRefused {
                    request: self.fail_render(&self.missing(Kind::RenderJob)),
                    code: "JOB_NOT_FOUND",
                },
            )],
            "Query.backgrounds" => vec![case(
                None,
                "the backgrounds",
                Check::RendererPublic {
                    request: request(BACKGROUNDS, json!({})),
                    pointer: "/data/backgrounds",
                },
            )],
            "Query.packCatalog" => vec![case(
                None,
                "every pack, as OPS sees them",
                Check::RendererPublic {
                    request: request(PACK_CATALOG, json!({})),
                    pointer: "/data/packCatalog",
                },
            )],
            "Subscription.balanceChanged" => [MODERN, LEGACY]
                .into_iter()
                .map(|protocol| {
                    case(
                        None,
                        "no balance to watch",
                        Check::SocketForbidden {
                            protocol,
                            document: BALANCE_CHANGED,
                        },
                    )
                })
                .collect(),
            _ => match field.strip_prefix("Node.") {
                Some(node_type) => match self.foreign_node(node_type) {
                    Some((kind, foreign)) => vec![case(
                        None,
                        "an account's record",
                        forbidden(
                            request(NODE, json!({"id": foreign})),
                            Some(request(NODE, json!({"id": self.missing(kind)}))),
                        ),
                    )],
                    None => vec![case(
                        None,
                        "the studio's configuration",
                        Check::RendererPublic {
                            request: request(NODE, json!({"id": self.shared_node(node_type)?})),
                            pointer: "/data/node",
                        },
                    )],
                },
                None => vec![case(
                    None,
                    "what a member or OPS may do",
                    forbidden(self.attack(field)?.1, None),
                )],
            },
        })
    }

    /// The subscription with each bad token, on both protocols.
    fn socket_refusals(&self, field: &str) -> Vec<Case> {
        let mut cases = Vec::new();
        for identity in BAD_TOKENS {
            for protocol in [MODERN, LEGACY] {
                cases.push(Case {
                    field: field.to_owned(),
                    identity,
                    id_path: None,
                    what: "closed 4403 before anything is sent",
                    check: Check::SocketRefused {
                        protocol,
                        document: subscription_document(field),
                        token: self.bad_token(identity, Target::MemberOfB),
                    },
                });
            }
        }
        cases
    }

    fn apply(&self, photos: &[&String], background: &str, logo: Option<(&String, &str)>, key: &str) -> Request {
        let logo = logo.map(|(id, position)| json!({"logoId": id, "position": position}));
        request(
            APPLY,
            json!({"input": {"photoIds": photos, "backgroundId": background, "logo": logo, "idempotencyKey": key}}),
        )
    }

    fn quote(&self, photos: &[&String], background: &str, logo: Option<(&String, &str)>) -> Request {
        let logo = logo.map(|(id, position)| json!({"logoId": id, "position": position}));
        request(
            QUOTE,
            json!({"input": {"photoIds": photos, "backgroundId": background, "logo": logo}}),
        )
    }

    fn resolve_report(&self, report: &str) -> Request {
        request(
            RESOLVE_REPORT,
            json!({"input": {"reportId": report, "kind": "REFUNDED"}}),
        )
    }

    fn complete_render(&self, job: &str) -> Request {
        request(
            COMPLETE_RENDER,
            json!({"input": {"jobId": job, "imageUrl": "https://cdn.example/forged.png"}}),
        )
    }

    fn fail_render(&self, job: &str) -> Request {
        request(FAIL_RENDER, json!({"input": {"jobId": job, "reason": "forged"}}))
    }

    fn revert(&self, photos: &[&String]) -> Request {
        request(REVERT, json!({"input": {"photoIds": photos}}))
    }

    fn report(&self, photo: &str) -> Request {
        request(REPORT, json!({"input": {"photoId": photo, "reason": "not mine"}}))
    }

    fn purchase(&self, pack: &str, key: &str) -> Request {
        request(PURCHASE, json!({"input": {"packId": pack, "idempotencyKey": key}}))
    }

    // ---- running a case ----

    async fn post(&self, token: Option<&str>, request: &Request) -> (StatusCode, Value) {
        self.app
            .post(
                token,
                json!({"query": request.document, "variables": request.variables}),
            )
            .await
    }

    /// `Ok` when the case holds; otherwise what went wrong.
    async fn run(&self, check: &Check, secrets: &[String]) -> Result<(), String> {
        let a = self.app.member(self.a.id);
        match check {
            Check::Unauthenticated { token, request } => {
                let answer = self.post(token.as_deref(), request).await;
                let refused = json!({"data": null, "errors": [{
                    "message": "A valid bearer token is required.",
                    "extensions": {"code": "UNAUTHENTICATED"},
                }]});
                expect(answer == (StatusCode::UNAUTHORIZED, refused), || format!("{answer:?}"))
            }
            Check::LikeMissing {
                foreign,
                missing,
                pointer,
                expected,
            } => {
                let answer = self.post(Some(&a), foreign).await;
                let for_missing = self.post(Some(&a), missing).await;
                expect(answer == for_missing, || {
                    format!("foreign: {answer:?}\nmissing: {for_missing:?}")
                })?;
                ok_answer(&answer)?;
                let shown = answer.1.pointer(pointer);
                expect(shown == Some(expected), || {
                    format!("{pointer} is {shown:?} in {}", answer.1)
                })?;
                no_leak(&answer.1, secrets)
            }
            Check::Forbidden { by, request, missing } => {
                let token = match by {
                    Sender::MemberA => a.clone(),
                    Sender::Renderer => self.app.renderer(),
                };
                let answer = self.post(Some(&token), request).await;
                let errors = answer.1["errors"].as_array().map_or(0, Vec::len);
                let code = &answer.1["errors"][0]["extensions"]["code"];
                let no_data = match &answer.1["data"] {
                    Value::Null => true,
                    Value::Object(fields) => fields.values().all(Value::is_null),
                    _ => false,
                };
                expect(
                    answer.0 == StatusCode::OK && errors == 1 && code == "FORBIDDEN" && no_data,
                    || format!("{answer:?}"),
                )?;
                if let Some(missing) = missing {
                    let for_missing = self.post(Some(&token), missing).await;
                    expect(answer == for_missing, || {
                        format!("foreign: {answer:?}\nmissing: {for_missing:?}")
                    })?;
                }
                no_leak(&answer.1, secrets)
            }
            Check::RendererPublic { request, pointer } => {
                let answer = self.post(Some(&self.app.renderer()), request).await;
                let for_ops = self.post(Some(&self.app.ops()), request).await;
                ok_answer(&answer)?;
                expect(answer == for_ops, || format!("renderer: {answer:?}\nOPS: {for_ops:?}"))?;
                let shown = answer.1.pointer(pointer).unwrap_or(&Value::Null);
                let empty = shown.is_null() || shown.as_array().is_some_and(Vec::is_empty);
                expect(!empty, || format!("nothing at {pointer} in {}", answer.1))?;
                no_leak(&answer.1, secrets)
            }
            Check::RendererRefused { request, code } => {
                let answer = self.post(Some(&self.app.renderer()), request).await;
                ok_answer(&answer)?;
                let payload = answer.1["data"].as_object().and_then(|d| d.values().next()).cloned();
                let codes: Vec<Value> = payload
                    .as_ref()
                    .and_then(|p| p["userErrors"].as_array())
                    .map(|errors| errors.iter().map(|e| e["code"].clone()).collect())
                    .unwrap_or_default();
                expect(codes == vec![json!(code)], || format!("{answer:?}"))?;
                no_leak(&answer.1, secrets)
            }
            Check::RendererViewer => {
                let renderer = self.app.renderer();
                let own = self
                    .post(Some(&renderer), &request("{ viewer { userId role } }", json!({})))
                    .await;
                let wanted = json!({"data": {"viewer": {"userId": "render-1", "role": "RENDERER"}}});
                expect(own == (StatusCode::OK, wanted), || format!("{own:?}"))?;
                let with_account = self.post(Some(&renderer), &request(VIEWER, json!({}))).await;
                let body = &with_account.1;
                let errors = body["errors"].as_array().map_or(0, Vec::len);
                expect(
                    with_account.0 == StatusCode::OK
                        && errors == 1
                        && body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
                        && body["errors"][0]["path"] == json!(["viewer", "account"])
                        && body["data"]["viewer"]["account"].is_null(),
                    || format!("{with_account:?}"),
                )?;
                no_leak(body, secrets)
            }
            Check::SocketQuiet { protocol } => {
                let (addr, protocol, token) = (self.addr, *protocol, a.clone());
                let first = tokio::spawn(async move {
                    let mut socket = connect(addr, protocol).await;
                    initialise(&mut socket, &token).await;
                    send(&mut socket, subscribe(protocol, EDIT_CHANGED)).await;
                    tokio::time::timeout(std::time::Duration::from_millis(300), receive(&mut socket))
                        .await
                        .ok()
                })
                .await
                .map_err(|e| format!("the subscription failed: {e}"))?;
                expect(first.is_none(), || format!("sent at once: {first:?}"))
            }
            Check::SocketForbidden { protocol, document } => {
                let (addr, protocol, token, document) = (self.addr, *protocol, self.app.renderer(), *document);
                let first = tokio::spawn(async move {
                    let mut socket = connect(addr, protocol).await;
                    initialise(&mut socket, &token).await;
                    send(&mut socket, subscribe(protocol, document)).await;
                    receive(&mut socket).await
                })
                .await
                .map_err(|e| format!("the subscription failed: {e}"))?;
                expect(
                    first["type"] == "error"
                        && first["id"] == "1"
                        && first["payload"].as_array().map_or(0, Vec::len) == 1
                        && first["payload"][0]["extensions"]["code"] == "FORBIDDEN",
                    || format!("first message {first}, not one FORBIDDEN error"),
                )
            }
            Check::Shared { request, pointer } => {
                let answer = self.post(Some(&a), request).await;
                let for_b = self.post(Some(&self.app.member(self.b.id)), request).await;
                ok_answer(&answer)?;
                expect(answer == for_b, || format!("A: {answer:?}\nB: {for_b:?}"))?;
                let shown = answer.1.pointer(pointer).unwrap_or(&Value::Null);
                let empty = shown.is_null() || shown.as_array().is_some_and(Vec::is_empty);
                expect(!empty, || format!("nothing at {pointer} in {}", answer.1))?;
                no_leak(&answer.1, secrets)
            }
            Check::Own {
                request,
                pointer,
                expected,
            } => {
                let answer = self.post(Some(&a), request).await;
                ok_answer(&answer)?;
                let shown = answer.1.pointer(pointer);
                expect(shown == Some(expected), || {
                    format!("{pointer} is {shown:?}, not {expected} in {}", answer.1)
                })?;
                no_leak(&answer.1, secrets)
            }
            Check::OwnLogo { request } => {
                let answer = self.post(Some(&a), request).await;
                ok_answer(&answer)?;
                no_leak(&answer.1, secrets)?;
                let id = answer.1["data"]["addLogo"]["logo"]["id"].as_str().unwrap_or_default();
                let key = self.app.auth.ids().decode_i64(Kind::Logo, id);
                let row = logo::Entity::find_by_id(key.unwrap_or_default())
                    .one(self.app.ledger.db())
                    .await
                    .expect("the logos");
                expect(row.is_some_and(|l| l.account_id == self.a.id), || {
                    format!("the new logo is not A's: {}", answer.1)
                })
            }
            Check::SocketRefused {
                protocol,
                token,
                document,
            } => {
                let (addr, protocol, token, document) = (self.addr, *protocol, token.clone(), *document);
                caught(tokio::spawn(async move {
                    let mut socket = connect(addr, protocol).await;
                    let payload = match token {
                        Some(token) => json!({"authorization": format!("Bearer {token}")}),
                        None => json!({}),
                    };
                    send(&mut socket, json!({"type": "connection_init", "payload": payload})).await;
                    send(&mut socket, subscribe(protocol, document)).await;
                    assert_closed_with(&mut socket, 4403, "Forbidden").await;
                }))
                .await
            }
            Check::SocketOwnBalance { protocol } => {
                let own = self.post(Some(&a), &request(OWN_BALANCE, json!({}))).await;
                let theirs = self
                    .post(Some(&self.app.member(self.b.id)), &request(OWN_BALANCE, json!({})))
                    .await;
                ok_answer(&own)?;
                let balance = own.1["data"]["viewer"]["account"]["balance"].clone();
                let b_balance = &theirs.1["data"]["viewer"]["account"]["balance"];
                expect(&balance != b_balance, || {
                    format!("A and B must have different balances: {balance}")
                })?;
                let (addr, protocol, token) = (self.addr, *protocol, a.clone());
                let first = tokio::spawn(async move {
                    let mut socket = connect(addr, protocol).await;
                    initialise(&mut socket, &token).await;
                    send(&mut socket, subscribe(protocol, BALANCE_CHANGED)).await;
                    receive(&mut socket).await
                })
                .await
                .map_err(|e| format!("the subscription failed: {e}"))?;
                let kind = if protocol == MODERN { "next" } else { "data" };
                let wanted = json!({"type": kind, "id": "1", "payload": {"data": {"balanceChanged": balance}}});
                expect(first == wanted, || format!("first message {first}, not {wanted}"))?;
                no_leak(&first, secrets)
            }
        }
    }

    // ---- state ----

    async fn holdings(&self, account_id: i64) -> Holdings {
        let ledger = &self.app.ledger;
        let db = ledger.db();
        let account = ledger.account(account_id).await.expect("a read").expect("the account");
        Holdings {
            balance: ledger.balance(&account).await.expect("a balance"),
            entries: ledger.entries(account_id).await.expect("the ledger"),
            lots: ledger.lots(account_id).await.expect("the lots"),
            photos: rows_of!(db, photo, account_id),
            edits: rows_of!(db, edit, account_id),
            reports: rows_of!(db, faulty_report, account_id),
            logos: rows_of!(db, logo, account_id),
            invoices: rows_of!(db, invoice, account_id),
            credit_notes: rows_of!(db, credit_note, account_id),
            webhook_events: rows_of!(db, webhook_event, account_id),
            idempotency_records: rows_of!(db, idempotency_record, account_id),
            render_jobs: rows_of!(db, render_job, account_id),
            account,
        }
    }

    async fn snapshot(&self) -> Snapshot {
        Snapshot {
            accounts: account::Entity::find()
                .order_by_asc(account::Column::Id)
                .all(self.app.ledger.db())
                .await
                .expect("the accounts"),
            now: self.app.ledger.now(),
            a: self.holdings(self.a.id).await,
            b: self.holdings(self.b.id).await,
        }
    }

    /// Every string that would show B's data: its records' ids, names and texts.
    fn secrets(&self, b: &Holdings) -> Vec<String> {
        let ids = |kind: Kind, keys: Vec<i64>| keys.into_iter().map(move |k| self.gid(kind, k));
        let mut secrets: Vec<String> = ids(Kind::Account, vec![b.account.id])
            .chain(ids(Kind::Photo, b.photos.iter().map(|p| p.id).collect()))
            .chain(ids(Kind::PhotoEdit, b.edits.iter().map(|e| e.id).collect()))
            .chain(ids(Kind::FaultyReport, b.reports.iter().map(|r| r.id).collect()))
            .chain(ids(Kind::Logo, b.logos.iter().map(|l| l.id).collect()))
            .chain(ids(Kind::LedgerEntry, b.entries.iter().map(|e| e.id).collect()))
            .chain(ids(Kind::Invoice, b.invoices.iter().map(|i| i.id).collect()))
            .chain(ids(Kind::PurchasedLot, b.lots.iter().map(|l| l.id).collect()))
            .collect();
        secrets.push(b.account.name.clone());
        secrets.extend(
            b.photos
                .iter()
                .flat_map(|p| [p.listing_ref.clone(), p.original_url.clone()]),
        );
        secrets.extend(b.logos.iter().flat_map(|l| [l.name.clone(), l.image_url.clone()]));
        secrets.extend(b.reports.iter().filter_map(|r| r.reason.clone()));
        secrets.extend(b.invoices.iter().map(|i| i.number.clone()));
        secrets
    }
}

async fn register(app: &TestApp, account_id: i64, prefix: &str) -> Vec<photo::Model> {
    let photos: Vec<(String, String)> = (0..2)
        .map(|i| {
            (
                format!("{prefix}-listing-{i}"),
                format!("https://img.example/{prefix}-{i}.jpg"),
            )
        })
        .collect();
    app.ledger
        .register_photos(account_id, &photos)
        .await
        .expect("register photos")
}

fn register_photos(account: &str) -> Request {
    request(
        REGISTER_PHOTOS,
        json!({"input": {"accountId": account, "photos": [
            {"listingRef": "forged", "originalUrl": "https://img.example/forged.jpg"}
        ]}}),
    )
}

fn update_subscription(account: &str) -> Request {
    request(
        UPDATE_SUBSCRIPTION,
        json!({"input": {"accountId": account, "plan": "PREMIUM", "listingSlots": 50}}),
    )
}

fn void_invoice(invoice: &str) -> Request {
    request(
        VOID_INVOICE,
        json!({"input": {"invoiceId": invoice, "reason": "Forged void"}}),
    )
}

fn redeliver_webhook(event: &str) -> Request {
    request(REDELIVER_WEBHOOK, json!({"input": {"eventId": event}}))
}

fn subscribe(protocol: &str, document: &str) -> Value {
    let kind = if protocol == MODERN { "subscribe" } else { "start" };
    json!({"id": "1", "type": kind, "payload": {"query": document}})
}

/// The subscription document a case of `field` sends.
fn subscription_document(field: &str) -> &'static str {
    if field == "Subscription.editChanged" {
        EDIT_CHANGED
    } else {
        BALANCE_CHANGED
    }
}

/// `token`'s header and claims with the signature of `other`: a forged token.
fn with_signature_of(token: &str, other: &str) -> String {
    let (signed_part, _) = token.rsplit_once('.').expect("a JWT");
    let (_, signature) = other.rsplit_once('.').expect("a JWT");
    format!("{signed_part}.{signature}")
}

fn expect(holds: bool, why: impl FnOnce() -> String) -> Result<(), String> {
    if holds { Ok(()) } else { Err(why()) }
}

/// A 200 answer without top-level errors.
fn ok_answer((status, body): &(StatusCode, Value)) -> Result<(), String> {
    expect(*status == StatusCode::OK && body.get("errors").is_none(), || {
        format!("{status}: {body}")
    })
}

/// Fails when any string in `body` contains one of B's `secrets`.
fn no_leak(body: &Value, secrets: &[String]) -> Result<(), String> {
    fn strings<'a>(value: &'a Value, into: &mut Vec<&'a str>) {
        match value {
            Value::String(s) => into.push(s),
            Value::Array(items) => items.iter().for_each(|v| strings(v, into)),
            Value::Object(fields) => fields.values().for_each(|v| strings(v, into)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    strings(body, &mut found);
    let leaked: Vec<&String> = secrets
        .iter()
        .filter(|secret| found.iter().any(|s| s.contains(secret.as_str())))
        .collect();
    expect(leaked.is_empty(), || format!("B's data {leaked:?} in {body}"))
}

/// The outcome of a spawned check: its panic message when it failed.
async fn caught(task: tokio::task::JoinHandle<()>) -> Result<(), String> {
    task.await.map_err(|e| match e.try_into_panic() {
        Ok(panic) => panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "a panic".into()),
        Err(e) => e.to_string(),
    })
}

/// Checks that the cases cover the schema: every (field or node type, identity) pair
/// the contract requires, and every ID argument filled with a foreign id.
fn assert_covers(surface: &Surface, cases: &[Case], undecided: &[String]) {
    assert!(
        undecided.is_empty(),
        "the access matrix has no decision for {undecided:?}: add their cases to tests/access_matrix.rs"
    );
    let node_fields: BTreeSet<String> = surface.node_types.iter().map(|t| format!("Node.{t}")).collect();
    let mut required = BTreeSet::new();
    for (field, ops) in &surface.fields {
        // `Query.node` is sent once per node type, as `Node.<type>`.
        if field != "Query.node" {
            let member = if *ops {
                Identity::MemberOnOps
            } else {
                Identity::OtherAccount
            };
            for identity in BAD_TOKENS.into_iter().chain([member, Identity::Renderer]) {
                required.insert((field.clone(), identity));
            }
        }
    }
    for field in &node_fields {
        for identity in BAD_TOKENS
            .into_iter()
            .chain([Identity::OtherAccount, Identity::Renderer])
        {
            required.insert((field.clone(), identity));
        }
    }
    let covered: BTreeSet<(String, Identity)> = cases.iter().map(|c| (c.field.clone(), c.identity)).collect();
    let uncovered: Vec<_> = required.difference(&covered).collect();
    assert!(uncovered.is_empty(), "no case for {uncovered:?}");
    let unknown: Vec<_> = covered
        .iter()
        .filter(|(field, _)| !surface.fields.contains_key(field) && !node_fields.contains(field))
        .collect();
    assert!(
        unknown.is_empty(),
        "cases for what the schema no longer has: {unknown:?}"
    );
    let misplaced: Vec<_> = cases
        .iter()
        .filter(|c| c.identity == Identity::MemberOnOps && surface.fields.get(&c.field) != Some(&true))
        .map(|c| &c.field)
        .collect();
    assert!(
        misplaced.is_empty(),
        "member-on-OPS cases for fields not OPS only: {misplaced:?}"
    );
    let filled: BTreeSet<String> = cases.iter().filter_map(|c| c.id_path.map(str::to_owned)).collect();
    let unfilled: Vec<_> = surface.id_paths.difference(&filled).collect();
    let stale: Vec<_> = filled.difference(&surface.id_paths).collect();
    assert!(
        unfilled.is_empty(),
        "no case fills these ID arguments with a foreign id: {unfilled:?}"
    );
    assert!(
        stale.is_empty(),
        "cases name ID arguments the schema does not have: {stale:?}"
    );
}

async fn run_matrix(world: World) {
    let surface = surface();
    let (cases, undecided) = world.cases(&surface);
    assert_covers(&surface, &cases, &undecided);

    // The forged token differs from a valid one only in its signature.
    let twin = world.signed(&world.claims(Target::MemberOfB, Utc::now().timestamp() + 3600));
    let control = world.post(Some(&twin), &request(VIEWER, json!({}))).await;
    assert_eq!(
        control.1["data"]["viewer"]["account"]["id"],
        json!(world.gid(Kind::Account, world.b.id)),
        "the correctly signed twin of the forged token is B's member: {control:?}"
    );

    let before = world.snapshot().await;
    let secrets = world.secrets(&before.b);
    let mut violations = Vec::new();
    let (writes, refused): (Vec<&Case>, Vec<&Case>) =
        cases.iter().partition(|c| matches!(c.check, Check::OwnLogo { .. }));
    for case in &refused {
        if let Err(why) = world.run(&case.check, &secrets).await {
            violations.push(case.violation(&why));
        }
    }
    let after_refusals = world.snapshot().await;
    if after_refusals != before {
        violations.push("the refused requests changed the stored state".into());
    }
    for case in &writes {
        if let Err(why) = world.run(&case.check, &secrets).await {
            violations.push(case.violation(&why));
        }
    }
    let mut after_writes = world.snapshot().await;
    let new_logos = after_writes.a.logos.len().saturating_sub(before.a.logos.len());
    after_writes.a.logos.truncate(before.a.logos.len());
    if new_logos != writes.len() || after_writes != before {
        violations.push(format!(
            "A's own writes must add {} logo(s) to A and change nothing else; {new_logos} added",
            writes.len()
        ));
    }

    let mut per_identity: BTreeMap<Identity, usize> = BTreeMap::new();
    for case in &cases {
        *per_identity.entry(case.identity).or_default() += 1;
    }
    let counts: Vec<String> = per_identity
        .iter()
        .map(|(identity, n)| format!("{} {n}", identity.label()))
        .collect();
    println!(
        "access matrix: {} cases, {} violations ({})",
        cases.len(),
        violations.len(),
        counts.join(", ")
    );
    assert!(violations.is_empty(), "access violations:\n{}", violations.join("\n"));
    assert_eq!(after_refusals, before, "the refused requests changed the stored state");
    assert_eq!(
        cases.len(),
        EXPECTED_CASES,
        "the access matrix changed size: {per_identity:?}"
    );
}
