//! The Standard Webhooks signature: `v1,` and the base64 HMAC-SHA256 of
//! `id.timestamp.body`, with the key a `whsec_` secret encodes. Apart from the worker,
//! so that the configuration can check a secret without depending on it.
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The HMAC key of `secret`: `whsec_` and base64 as the specification writes it, or
/// any other text of 24 characters or more as its bytes; none for anything else.
pub fn signing_key(secret: &str) -> Option<Vec<u8>> {
    match secret.strip_prefix("whsec_") {
        Some(encoded) => STANDARD.decode(encoded).ok().filter(|key| key.len() >= 16),
        None => (secret.chars().count() >= 24).then(|| secret.as_bytes().to_vec()),
    }
}

/// The `webhook-signature` of `body` sent as event `id` at `timestamp`.
pub fn signature(key: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    // HMAC takes a key of any length: this cannot fail.
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(key) else {
        unreachable!("HMAC-SHA256 accepts any key")
    };
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_standard_webhooks_example() {
        // The specification's own example (standard-webhooks, spec/standard-webhooks.md).
        let key = signing_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            signature(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn a_secret_is_whsec_and_base64_or_long_text() {
        assert_eq!(signing_key("whsec_not base64!"), None);
        assert_eq!(signing_key("short"), None);
        assert_eq!(signing_key("a plain secret of 24 chars").map(|k| k.len()), Some(26));
    }
}
