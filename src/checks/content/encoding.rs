//! Header text written raw instead of encoded: old Japanese systems put
//! Shift_JIS, EUC-JP or ISO-2022-JP bytes straight into a Subject, where
//! RFC 5322 allows only ASCII and RFC 2047 says how to encode the rest.
//! Receivers show mojibake or refuse the message. Raw UTF-8 is RFC 6532's
//! internationalised header, valid only over SMTPUTF8: told apart.

use super::words;
use mail_parser::decoders::charsets::map::charset_decoder;

words! {
    /// How the header section carries text beyond ASCII: `ok` (ASCII, with
    /// RFC 2047 encoded words), `utf8` (raw UTF-8, RFC 6532: only for
    /// SMTPUTF8 mail), `unencoded` (raw Shift_JIS/EUC-JP bytes or
    /// ISO-2022-JP escapes outside encoded words).
    HeaderEncoding { Ok => "ok", Utf8 => "utf8", Unencoded => "unencoded" }
}

/// The header section of `raw`: up to the first empty line.
pub fn header_section(raw: &[u8]) -> &[u8] {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n"))
        .unwrap_or(raw.len());
    &raw[..end]
}

/// How `raw`'s header section is encoded.
pub fn header_encoding(raw: &[u8]) -> HeaderEncoding {
    let section = header_section(raw);
    if section.contains(&0x1b) {
        HeaderEncoding::Unencoded
    } else if section.is_ascii() {
        HeaderEncoding::Ok
    } else if std::str::from_utf8(section).is_ok() {
        HeaderEncoding::Utf8
    } else {
        HeaderEncoding::Unencoded
    }
}

/// The raw value of the first `name` field (unfolded), if any.
pub fn raw_field(raw: &[u8], name: &str) -> Option<Vec<u8>> {
    let section = header_section(raw);
    let mut lines = section.split(|b| *b == b'\n').peekable();
    while let Some(line) = lines.next() {
        let Some(value) = line
            .get(..name.len() + 1)
            .filter(|head| head[..name.len()].eq_ignore_ascii_case(name.as_bytes()))
            .filter(|head| head[name.len()] == b':')
            .map(|_| &line[name.len() + 1..])
        else {
            continue;
        };
        let mut value = value.to_vec();
        while let Some(next) =
            lines.next_if(|l| l.first().is_some_and(|b| *b == b' ' || *b == b'\t'))
        {
            value.extend_from_slice(next);
        }
        value.retain(|b| *b != b'\r');
        return Some(value.trim_ascii().to_vec());
    }
    None
}

/// Raw header bytes as text, best effort: UTF-8 when they are, else the
/// Japanese charset that decodes them without a replacement character
/// (ISO-2022-JP when they carry its escapes), else lossy UTF-8.
pub fn best_effort(bytes: &[u8]) -> String {
    if let Ok(text) = std::str::from_utf8(bytes)
        && !bytes.contains(&0x1b)
    {
        return text.to_string();
    }
    let candidates: &[&[u8]] = if bytes.contains(&0x1b) {
        &[b"iso-2022-jp"]
    } else {
        &[b"shift_jis", b"euc-jp"]
    };
    candidates
        .iter()
        .filter_map(|charset| charset_decoder(charset).map(|decode| decode(bytes)))
        .find(|text| !text.contains('\u{fffd}'))
        .unwrap_or_else(|| String::from_utf8_lossy(bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_are_told_apart() {
        assert_eq!(
            header_encoding(b"Subject: =?UTF-8?B?5pel?=\r\n\r\n\xff"),
            HeaderEncoding::Ok
        );
        assert_eq!(
            header_encoding("Subject: 日本\r\n\r\n".as_bytes()),
            HeaderEncoding::Utf8
        );
        assert_eq!(
            header_encoding(b"Subject: \x93\xfa\x96\x7b\r\n\r\n"),
            HeaderEncoding::Unencoded
        );
        assert_eq!(
            header_encoding(b"Subject: \x1b$BF|K\\\x1b(B\r\n\r\n"),
            HeaderEncoding::Unencoded
        );
    }

    #[test]
    fn raw_japanese_is_decoded_best_effort() {
        // 日本 in Shift_JIS, EUC-JP and ISO-2022-JP.
        assert_eq!(best_effort(b"\x93\xfa\x96\x7b"), "日本");
        assert_eq!(best_effort(b"\xc6\xfc\xcb\xdc"), "日本");
        assert_eq!(best_effort(b"\x1b$BF|K\\\x1b(B"), "日本");
        assert_eq!(best_effort("日本".as_bytes()), "日本");
    }

    #[test]
    fn raw_fields_are_unfolded() {
        let raw = b"From: a@b\r\nSubject: one\r\n two\r\nX: y\r\n\r\nSubject: body";
        assert_eq!(raw_field(raw, "subject").unwrap(), b"one two");
        assert_eq!(raw_field(raw, "To"), None);
    }
}
