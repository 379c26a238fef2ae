//! The one rule for the text a client sends: account and logo names, URLs, listing
//! refs, report reasons and idempotency keys. No control character (Unicode's `Cc`,
//! U+0000 to U+001F and U+007F to U+009F) gets past it. None belongs in any of them,
//! and PostgreSQL refuses U+0000 in text that SQLite stores as is: checked here, before
//! storage, both databases give the same answer (`INVALID_INPUT`, nothing changed).
use crate::error::{Refusal, RefusalCode};

/// Longest name, URL, listing ref or reason accepted, in characters.
pub const MAX_TEXT_CHARS: usize = 2048;

/// Whether `text` holds 1 to `max` characters, none of them a control character.
pub fn is_printable(text: &str, max: usize) -> bool {
    let mut chars = 0_usize;
    for c in text.chars() {
        chars += 1;
        if chars > max || c.is_control() {
            return false;
        }
    }
    chars > 0
}

/// `text` exactly as sent, when [`is_printable`] within `max` characters: for what a
/// client compares byte for byte, such as an idempotency key.
pub fn exact_text(text: &str, max: usize, field: &[&str]) -> Result<String, Refusal> {
    if is_printable(text, max) {
        Ok(text.to_owned())
    } else {
        Err(refusal(field, format!("must be 1 to {max} printable characters")))
    }
}

/// `text` trimmed, when [`is_printable`] within [`MAX_TEXT_CHARS`].
pub fn required_text(text: &str, field: &[&str]) -> Result<String, Refusal> {
    exact_text(text.trim(), MAX_TEXT_CHARS, field)
}

/// `text` trimmed, or `None` when it is absent or blank; otherwise as [`required_text`].
pub fn optional_text(text: Option<&str>, field: &[&str]) -> Result<Option<String>, Refusal> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(text) if is_printable(text, MAX_TEXT_CHARS) => Ok(Some(text.to_owned())),
        Some(_) => Err(refusal(
            field,
            format!("must be at most {MAX_TEXT_CHARS} printable characters"),
        )),
    }
}

/// An http(s) URL without whitespace, as [`required_text`].
pub fn url(text: &str, field: &[&str]) -> Result<String, Refusal> {
    let text = required_text(text, field)?;
    if !(text.starts_with("https://") || text.starts_with("http://")) || text.contains(char::is_whitespace) {
        return Err(refusal(field, "must be an http(s) URL".to_owned()));
    }
    Ok(text)
}

/// `INVALID_INPUT` at `field`, saying what the field must be.
fn refusal(field: &[&str], requirement: String) -> Refusal {
    let name = field.last().copied().unwrap_or("The text");
    Refusal::new(RefusalCode::InvalidInput, format!("{name} {requirement}.")).at(field)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_text_is_1_to_max_characters_without_a_control_character() {
        let cases: [(&str, usize, bool); 14] = [
            ("a", 1, true),
            ("é ü 漢字 🙂", 9, true),
            ("tab\there", 10, false),
            ("bad\u{0}image", 20, false),
            ("bell\u{7}", 20, false),
            ("del\u{7f}", 20, false),
            ("c1\u{85}", 20, false),
            ("c1\u{9f}", 20, false),
            ("line\nbreak", 20, false),
            ("\u{a0}nbsp is printable", 20, true),
            ("", 10, false),
            ("abc", 3, true),
            ("abcd", 3, false),
            ("🙂🙂🙂", 3, true),
        ];

        for (text, max, expected) in cases {
            assert_eq!(is_printable(text, max), expected, "{text:?} within {max}");
        }
    }

    #[test]
    fn required_text_is_trimmed_and_refused_when_blank_long_or_with_a_control_character() {
        let field = ["photos", "0", "listingRef"];
        let refused = Refusal::new(
            RefusalCode::InvalidInput,
            "listingRef must be 1 to 2048 printable characters.",
        )
        .at(&field);

        assert_eq!(required_text("  ref-1 \n", &field), Ok("ref-1".to_owned()));
        assert_eq!(
            required_text(&"r".repeat(MAX_TEXT_CHARS), &field).map(|t| t.len()),
            Ok(2048)
        );
        assert_eq!(required_text(" \t ", &field), Err(refused.clone()));
        assert_eq!(
            required_text(&"r".repeat(MAX_TEXT_CHARS + 1), &field),
            Err(refused.clone())
        );
        assert_eq!(required_text("ref\u{0}1", &field), Err(refused));
    }

    #[test]
    fn optional_text_is_none_when_blank_and_otherwise_follows_the_same_rule() {
        let refused = Refusal::new(
            RefusalCode::InvalidInput,
            "reason must be at most 2048 printable characters.",
        )
        .at(&["reason"]);

        assert_eq!(optional_text(None, &["reason"]), Ok(None));
        assert_eq!(optional_text(Some("  "), &["reason"]), Ok(None));
        assert_eq!(
            optional_text(Some(" blurry "), &["reason"]),
            Ok(Some("blurry".to_owned()))
        );
        assert_eq!(optional_text(Some("bad\u{0}image"), &["reason"]), Err(refused.clone()));
        assert_eq!(
            optional_text(Some(&"r".repeat(MAX_TEXT_CHARS + 1)), &["reason"]),
            Err(refused)
        );
    }

    #[test]
    fn exact_text_keeps_what_was_sent_and_refuses_any_control_character() {
        let refused = Refusal::new(
            RefusalCode::InvalidInput,
            "idempotencyKey must be 1 to 128 printable characters.",
        )
        .at(&["idempotencyKey"]);

        assert_eq!(exact_text(" k 1 ", 128, &["idempotencyKey"]), Ok(" k 1 ".to_owned()));
        for key in ["k\u{0}", "k\u{7}", "k\u{7f}", "", &"k".repeat(129)] {
            assert_eq!(
                exact_text(key, 128, &["idempotencyKey"]),
                Err(refused.clone()),
                "{key:?}"
            );
        }
    }

    #[test]
    fn a_url_is_http_or_https_without_whitespace_or_control_characters() {
        let refused = |requirement: &str| {
            Refusal::new(RefusalCode::InvalidInput, format!("imageUrl {requirement}.")).at(&["imageUrl"])
        };

        assert_eq!(
            url(" https://img.example/l.png ", &["imageUrl"]),
            Ok("https://img.example/l.png".to_owned())
        );
        assert_eq!(
            url("http://img.example/l.png", &["imageUrl"]),
            Ok("http://img.example/l.png".to_owned())
        );
        assert_eq!(
            url("ftp://img.example/l.png", &["imageUrl"]),
            Err(refused("must be an http(s) URL"))
        );
        assert_eq!(
            url("https://img.example/a b.png", &["imageUrl"]),
            Err(refused("must be an http(s) URL"))
        );
        assert_eq!(
            url("https://img.example/\u{0}.png", &["imageUrl"]),
            Err(refused("must be 1 to 2048 printable characters"))
        );
    }
}
