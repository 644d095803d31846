//! Content and format: what the message itself says, as SpamAssassin and
//! mail-tester judge it (headers, bulk-mail headers, body and HTML, links,
//! attachments). Findings only, in words the rule table can test; points
//! live in `scoring-rules/`. Everything read here is attacker-controlled, so
//! every loop is bounded and every kept string is cut short.

pub mod attachments;
pub mod body;
pub mod bulk;
pub mod domains;
pub mod encoding;
pub mod headers;
pub mod html;
pub mod links;
pub mod lookalike;
pub mod zip;

use super::dkim::DkimFinding;
use super::facts::Facts;
use crate::i18n::phrases;
use mail_parser::Message;
use serde::{Deserialize, Serialize};

pub(crate) use super::facts::words;

words! {
    /// A set of rules an operator switches on for a kind of sender. `fisc`:
    /// the Japanese FISC guideline for financial institutions (no URLs, no
    /// HTML in mail to customers).
    Profile { Default => "default", Fisc => "fisc" }
}

impl Profile {
    pub fn parse(text: &str) -> Option<Profile> {
        match text.trim().to_ascii_lowercase().as_str() {
            "default" | "" => Some(Profile::Default),
            "fisc" => Some(Profile::Fisc),
            _ => None,
        }
    }
}

/// Everything the content checks found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ContentFinding {
    /// The rule profile in force, so profile rules can test it.
    pub profile: Profile,
    pub headers: headers::HeaderFinding,
    pub bulk: bulk::BulkFinding,
    pub body: body::BodyFinding,
    pub links: links::LinkFinding,
    pub attachments: attachments::AttachmentFinding,
}

/// What the content checks need besides the raw message.
pub struct Context<'a> {
    /// The envelope sender, the Return-Path when the message has none.
    pub mail_from: &'a str,
    /// When we received the message (Unix seconds): the clock Date is
    /// compared with when no Received header carries one.
    pub received_at: u64,
    pub profile: Profile,
}

pub fn content(raw: &[u8], context: &Context<'_>) -> ContentFinding {
    crate::checks::big_parts::parsed(raw, |parsed| content_of(raw, parsed, context))
}

/// [`content`] from `raw` already parsed (`None`: it would not parse).
pub fn content_of(raw: &[u8], parsed: Option<&Message>, context: &Context<'_>) -> ContentFinding {
    let Some(message) = parsed else {
        return ContentFinding {
            profile: context.profile,
            headers: headers::unparsed(),
            body: body::unparsed(raw.len()),
            ..ContentFinding::default()
        };
    };
    let html = html::read_all(message);
    ContentFinding {
        profile: context.profile,
        headers: headers::headers(message, context),
        bulk: bulk::bulk(message),
        body: body::body(message, &html, raw),
        links: links::links(message, &html),
        attachments: attachments::attachments(message),
    }
}

/// Each kept string is cut to this many characters.
const MAX_NOTE_CHARS: usize = 200;
/// Lists in a finding keep at most this many entries.
pub const MAX_LISTED: usize = 20;

/// `text`, cut to [`MAX_NOTE_CHARS`] characters.
pub fn bounded(text: &str) -> String {
    match text.char_indices().nth(MAX_NOTE_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// Pushes `item` unless the list is full or already has it.
pub fn push_bounded(list: &mut Vec<String>, item: String) {
    if list.len() < MAX_LISTED && !list.contains(&item) {
        list.push(item);
    }
}

impl ContentFinding {
    /// The facts of `headers`, `bulk`, `body`, `links` and `attachments`.
    /// Each carries the profile, so a profile's rules (FISC) are plain
    /// rules that also test it. `dkim`: for the signed one-click header.
    pub fn facts(&self, dkim: &[DkimFinding], facts: &mut Facts) {
        self.headers.facts(self.profile, facts);
        self.bulk.facts(self.profile, dkim, facts);
        self.body.facts(self.profile, facts);
        self.links.facts(self.profile, facts);
        self.attachments.facts(self.profile, facts);
    }
}

phrases! {
    /// The page's words for this check, in English and Japanese.
    ContentWords {
        bulk: "Bulk-mail headers", "一括送信用ヘッダー";
        body: "Body and HTML", "本文と HTML";
        links: "Links", "リンク";
        attachments: "Attachments", "添付ファイル";
        about_headers: "The fields every message should carry (Date, Message-ID, From, To, Subject) and the ones phishing bends: Reply-To, Return-Path, the sender's display name and look-alike domains.",
            "すべてのメールに必要なヘッダー（Date、Message-ID、From、To、Subject）と、フィッシングが悪用するヘッダー（Reply-To、Return-Path、差出人名、類似ドメイン）を確認します。";
        about_bulk: "Bulk senders must offer List-Unsubscribe with one-click unsubscribe (RFC 8058), as Gmail and Yahoo require since 2024.",
            "一括送信者は、2024 年から Gmail と Yahoo が求めるとおり、ワンクリック配信停止（RFC 8058）付きの List-Unsubscribe を提供する必要があります。";
        about_body: "How the body is built: MIME structure, HTML with a text alternative, the share of text, images, hidden text and elements mail clients refuse.",
            "本文の構成（MIME 構造、テキスト版を伴う HTML、テキストの割合、画像、隠しテキスト、メールアプリが拒否する要素）を確認します。";
        about_links: "Links whose text shows another domain than they open, URL shorteners and links to bare IP addresses are phishing signs. mailscore never opens them.",
            "表示と異なるドメインへのリンク、短縮 URL、IP アドレスへのリンクはフィッシングの兆候です。mailscore はリンクを開きません。";
        about_attachments: "Attachment names and ZIP directories are read (never run, unpacked or decrypted) for executables, double extensions, macros and password-protected archives (PPAP).",
            "添付ファイル名と ZIP の目録を読み取り（実行・展開・復号はしません）、実行ファイル、二重拡張子、マクロ、パスワード付き圧縮ファイル（PPAP）を確認します。";
        profile: "profile", "プロファイル";
        display_name: "display name", "差出人名";
        header_encoding: "header text", "ヘッダーの文字";
        links_found: "links", "リンク数";
        images: "images", "画像";
        without_alt: "without alt", "alt なし";
        text_alternative: "text alternative", "テキスト版";
        no_attachments: "No attachments.", "添付ファイルはありません。";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTEXT: Context<'static> = Context {
        mail_from: "",
        received_at: 1_763_425_812,
        profile: Profile::Default,
    };

    #[test]
    fn bytes_that_are_no_message_are_broken_not_a_crash() {
        let f = content(b"", &CONTEXT);
        assert_eq!(f.body.structure, body::Structure::Broken);
        assert_eq!(f.headers.from, headers::FromState::Missing);
        content(&[0xff; 4096], &CONTEXT);
    }

    #[test]
    fn hostile_messages_stay_bounded() {
        // 5000 attachments, each a ZIP claiming 65535 entries.
        let mut raw = String::from(
            "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n",
        );
        let zip = "UEsFBgAAAAD//wAA/////////////w==";
        for i in 0..5000 {
            raw += &format!(
                "--b\r\nContent-Type: application/zip\r\nContent-Disposition: attachment; filename=\"a{i}.pdf.exe\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{zip}\r\n"
            );
        }
        raw += "--b--\r\n";
        let f = content(raw.as_bytes(), &CONTEXT);
        assert_eq!(f.attachments.count, 100);
        assert_eq!(f.attachments.files.len(), MAX_LISTED);
        assert!(f.attachments.any("double_extension"));
        // Deeply nested HTML and thousands of links.
        let html = format!(
            "From: a@example.com\r\nContent-Type: text/html\r\n\r\n{}{}",
            "<div style='display:none'>".repeat(10_000),
            "<a href='http://192.0.2.1/'>bank.example</a>".repeat(5000)
        );
        let f = content(html.as_bytes(), &CONTEXT);
        assert!(f.links.count <= 1000 && f.links.raw_ip.len() == 1);
        assert!(f.links.mismatched.len() <= MAX_LISTED);
    }

    #[test]
    fn the_profile_is_carried_for_the_rules() {
        let fisc = Context {
            profile: Profile::Fisc,
            ..CONTEXT
        };
        assert_eq!(content(b"Subject: x\r\n\r\n", &fisc).profile, Profile::Fisc);
        assert_eq!(Profile::parse(" FISC "), Some(Profile::Fisc));
        assert_eq!(Profile::parse("bank"), None);
    }
}
