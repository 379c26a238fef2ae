//! Global ids and cursors: a kind and a key, signed with an HMAC so that a client can
//! neither forge one nor walk the database by counting. A tampered, truncated or
//! foreign id decodes to nothing, which the API answers exactly like a missing record.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Bytes of the HMAC kept in every id: short ids, still 2^-96 odds for a forgery.
const TAG_BYTES: usize = 12;

/// What a global id or cursor names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Account,
    Photo,
    PhotoEdit,
    FaultyReport,
    Logo,
    Background,
    CreditPack,
    PurchasedLot,
    LedgerEntry,
    Invoice,
    /// A claim of a render job: the job and which of its claims (`<job>.<attempt>`).
    RenderJob,
    CreditNote,
    WebhookEvent,
    /// A position in a list, not a record.
    Cursor,
}

impl Kind {
    fn tag(self) -> &'static str {
        match self {
            Kind::Account => "Account",
            Kind::Photo => "Photo",
            Kind::PhotoEdit => "PhotoEdit",
            Kind::FaultyReport => "FaultyReport",
            Kind::Logo => "Logo",
            Kind::Background => "Background",
            Kind::CreditPack => "CreditPack",
            Kind::PurchasedLot => "PurchasedLot",
            Kind::LedgerEntry => "LedgerEntry",
            Kind::Invoice => "Invoice",
            Kind::RenderJob => "RenderJob",
            Kind::CreditNote => "CreditNote",
            Kind::WebhookEvent => "WebhookEvent",
            Kind::Cursor => "Cursor",
        }
    }

    const ALL: [Kind; 14] = [
        Kind::Account,
        Kind::Photo,
        Kind::PhotoEdit,
        Kind::FaultyReport,
        Kind::Logo,
        Kind::Background,
        Kind::CreditPack,
        Kind::PurchasedLot,
        Kind::LedgerEntry,
        Kind::Invoice,
        Kind::RenderJob,
        Kind::CreditNote,
        Kind::WebhookEvent,
        Kind::Cursor,
    ];
}

/// A list that is paged with cursors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum List {
    /// An account's photos.
    Photos,
    /// An account's ledger.
    Ledger,
    /// An account's invoices.
    Invoices,
    /// A photo's edits.
    Edits,
    /// A photo's reports.
    Reports,
    /// The correction team's queue: every account's reports, oldest first.
    ReportQueue,
    /// The service's events for other systems (OPS).
    WebhookEvents,
}

impl List {
    const ALL: [List; 7] = [
        List::Photos,
        List::Ledger,
        List::Invoices,
        List::Edits,
        List::Reports,
        List::ReportQueue,
        List::WebhookEvents,
    ];

    /// The list's name inside its cursors: the one spelling both ways go through.
    fn name(self) -> &'static str {
        match self {
            List::Photos => "photos",
            List::Ledger => "ledger",
            List::Invoices => "invoices",
            List::Edits => "edits",
            List::Reports => "reports",
            List::ReportQueue => "report_queue",
            List::WebhookEvents => "webhook_events",
        }
    }
}

impl std::fmt::Display for List {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for List {
    type Err = ();

    fn from_str(name: &str) -> Result<Self, ()> {
        List::ALL.into_iter().find(|list| list.name() == name).ok_or(())
    }
}

/// Signs and checks ids with a key derived from the service's secret.
#[derive(Clone)]
pub struct IdCodec {
    /// The HMAC with the key already taken in: each id then costs the hashing of its
    /// own bytes only, not the key's two blocks again.
    keyed: HmacSha256,
}

impl IdCodec {
    /// A codec whose key is derived from `secret`, apart from the key that signs tokens.
    pub fn new(secret: &str) -> Self {
        let mut mac = mac_with(secret.as_bytes());
        mac.update(b"studio-bff global ids v1");
        IdCodec {
            keyed: mac_with(&mac.finalize().into_bytes()),
        }
    }

    /// The id of the record of `kind` whose key is `key`.
    pub fn encode(&self, kind: Kind, key: impl std::fmt::Display) -> String {
        let payload = format!("{}:{key}", kind.tag());
        let mut bytes = self.tag(payload.as_bytes()).to_vec();
        bytes.extend_from_slice(payload.as_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The key of an id of `kind`; `None` for anything else, forged or malformed.
    pub fn decode(&self, kind: Kind, id: &str) -> Option<String> {
        let (found, key) = self.decode_any(id)?;
        (found == kind).then_some(key)
    }

    /// The numeric key of an id of `kind`.
    pub fn decode_i64(&self, kind: Kind, id: &str) -> Option<i64> {
        self.decode(kind, id)?.parse().ok()
    }

    /// The kind and key of any valid id.
    pub fn decode_any(&self, id: &str) -> Option<(Kind, String)> {
        let bytes = URL_SAFE_NO_PAD.decode(id).ok()?;
        if bytes.len() <= TAG_BYTES {
            return None;
        }
        let (tag, payload) = bytes.split_at(TAG_BYTES);
        let mut mac = self.keyed.clone();
        mac.update(payload);
        mac.verify_truncated_left(tag).ok()?;
        let payload = std::str::from_utf8(payload).ok()?;
        let (tag, key) = payload.split_once(':')?;
        let kind = Kind::ALL.into_iter().find(|k| k.tag() == tag)?;
        Some((kind, key.to_owned()))
    }

    /// An opaque cursor for the position `position` in the list `list` of `owner`
    /// (the account whose list it is).
    pub fn cursor(&self, list: List, owner: i64, position: i64) -> String {
        self.encode(Kind::Cursor, format_args!("{list}:{owner}:{position}"))
    }

    /// The position a cursor of `owner`'s list `list` names; `None` for a cursor of
    /// another list or of another owner's list, which would otherwise page one account
    /// from a position read on another.
    pub fn decode_cursor(&self, list: List, owner: i64, cursor: &str) -> Option<i64> {
        let key = self.decode(Kind::Cursor, cursor)?;
        let mut parts = key.splitn(3, ':');
        let (found, found_owner, position) = (parts.next()?, parts.next()?, parts.next()?);
        if found.parse::<List>().ok()? != list || found_owner.parse::<i64>().ok()? != owner {
            return None;
        }
        position.parse().ok()
    }

    fn tag(&self, payload: &[u8]) -> [u8; TAG_BYTES] {
        let mut mac = self.keyed.clone();
        mac.update(payload);
        let full = mac.finalize().into_bytes();
        let mut tag = [0; TAG_BYTES];
        tag.copy_from_slice(&full[..TAG_BYTES]);
        tag
    }
}

fn mac_with(key: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length; the error case cannot happen.
    <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_round_trips_to_its_kind_and_key() {
        let codec = IdCodec::new("secret");
        let id = codec.encode(Kind::Photo, 42);
        assert_eq!(codec.decode_i64(Kind::Photo, &id), Some(42));
        assert_eq!(codec.decode(Kind::Logo, &id), None);
    }

    #[test]
    fn an_id_is_the_same_from_one_release_to_the_next() {
        // HMAC-SHA256 keyed with HMAC(secret, "studio-bff global ids v1"), its first 12
        // bytes, then "Photo:42", in unpadded base64url: computed apart, with Python's hmac.
        assert_eq!(
            IdCodec::new("secret").encode(Kind::Photo, 42),
            "yVMQOvnAAetf8hj8UGhvdG86NDI"
        );
    }

    #[test]
    fn a_tampered_id_or_one_signed_with_another_secret_decodes_to_nothing() {
        let codec = IdCodec::new("secret");
        let id = codec.encode(Kind::Photo, 42);
        let mut bytes = URL_SAFE_NO_PAD.decode(&id).expect("base64");
        let last = bytes.len() - 1;
        bytes[last] = b'3';
        let tampered = URL_SAFE_NO_PAD.encode(bytes);
        assert_eq!(codec.decode_any(&tampered), None);
        assert_eq!(IdCodec::new("other").decode_any(&id), None);
        assert_eq!(codec.decode_any("not an id"), None);
    }

    #[test]
    fn neighbouring_records_do_not_have_neighbouring_ids() {
        let codec = IdCodec::new("secret");
        let (a, b) = (codec.encode(Kind::Photo, 41), codec.encode(Kind::Photo, 42));
        assert_ne!(a[..16], b[..16]);
    }

    #[test]
    fn a_cursor_belongs_to_one_list() {
        let codec = IdCodec::new("secret");
        let cursor = codec.cursor(List::Ledger, 3, 7);
        assert_eq!(codec.decode_cursor(List::Ledger, 3, &cursor), Some(7));
        assert_eq!(codec.decode_cursor(List::Photos, 3, &cursor), None);
    }

    #[test]
    fn a_cursor_of_another_owners_list_decodes_to_nothing() {
        let codec = IdCodec::new("secret");
        let cursor = codec.cursor(List::Ledger, 3, 7);
        assert_eq!(codec.decode_cursor(List::Ledger, 4, &cursor), None);
        assert_eq!(codec.decode_cursor(List::Ledger, 33, &cursor), None);
    }

    #[test]
    fn a_list_is_named_and_read_back_by_one_mapping() {
        for list in List::ALL {
            assert_eq!(list.to_string().parse::<List>(), Ok(list));
        }
        assert_eq!("Ledger".parse::<List>(), Err(()));
    }
}
