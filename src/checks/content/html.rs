//! A small, bounded HTML reader: not a browser, just enough to count what
//! spam filters count (visible text, images, alt text, forbidden elements,
//! hidden text) and to pair each link with the text it shows. Input beyond
//! [`MAX_HTML_BYTES`] is not read; tags beyond [`MAX_TAGS`] are not parsed.

use mail_parser::{Message, PartType};

/// Bytes of HTML read per message (all HTML parts together).
pub const MAX_HTML_BYTES: usize = 2 * 1024 * 1024;
const MAX_TAGS: usize = 50_000;
const MAX_ANCHORS: usize = 1000;
const MAX_DEPTH: usize = 256;
const MAX_ANCHOR_TEXT: usize = 200;

/// Elements a mail client runs or submits: receivers strip or distrust them.
pub const FORBIDDEN: &[&str] = &[
    "script", "iframe", "frame", "frameset", "embed", "object", "applet", "form",
];
const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr",
];
/// Elements whose content is never shown.
const RAW_TEXT: &[&str] = &["script", "style", "title", "head", "template"];

/// A link and the text a reader sees for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    pub href: String,
    pub text: String,
}

/// What the HTML parts of a message contain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Html {
    /// Bytes of HTML read.
    pub bytes: usize,
    /// Characters of visible, non-space text.
    pub visible_chars: usize,
    pub images: usize,
    pub images_without_alt: usize,
    /// Forbidden element names found, each once.
    pub forbidden: Vec<String>,
    /// Non-space characters inside elements styled invisible.
    pub hidden_chars: usize,
    pub anchors: Vec<Anchor>,
}

/// Every text/html part (not the text parts mail-parser converts for
/// display), read together.
pub fn read_all(message: &Message<'_>) -> Option<Html> {
    let mut html = Html::default();
    let mut any = false;
    for part in &message.parts {
        if let PartType::Html(text) = &part.body {
            any = true;
            let room = MAX_HTML_BYTES.saturating_sub(html.bytes);
            read(cut(text, room), &mut html);
        }
    }
    any.then_some(html)
}

fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Reads one HTML document into `out`.
pub fn read(text: &str, out: &mut Html) {
    out.bytes += text.len();
    let mut reader = Reader {
        out,
        stack: Vec::new(),
        anchor: None,
    };
    let lower = text.to_ascii_lowercase();
    let mut pos = 0;
    let mut tags = 0;
    while pos < text.len() && tags < MAX_TAGS {
        let Some(lt) = text[pos..].find('<').map(|i| pos + i) else {
            reader.text(&text[pos..]);
            break;
        };
        reader.text(&text[pos..lt]);
        tags += 1;
        let rest = &lower[lt..];
        if rest.starts_with("<!--") {
            pos = rest.find("-->").map_or(text.len(), |i| lt + i + 3);
            continue;
        }
        let closing = rest.starts_with("</");
        let name_start = lt + if closing { 2 } else { 1 };
        let name: String = lower[name_start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .take(16)
            .collect();
        let name = if name.starts_with(|c: char| c.is_ascii_alphabetic()) {
            name
        } else {
            String::new()
        };
        if name.is_empty() && !rest.starts_with("<!") && !rest.starts_with("<?") {
            reader.text("<");
            pos = lt + 1;
            continue;
        }
        let gt = tag_end(text, name_start + name.len());
        let attrs = &text[(name_start + name.len()).min(gt)..gt];
        pos = (gt + 1).min(text.len());
        if name.is_empty() {
            continue;
        }
        if closing {
            reader.close(&name);
            continue;
        }
        reader.open(&name, attrs);
        if RAW_TEXT.contains(&name.as_str()) {
            let end = format!("</{name}");
            pos = lower[pos..].find(&end).map_or(text.len(), |i| pos + i);
        }
    }
    reader.finish();
}

/// The `>` ending a tag, skipping quoted attribute values.
fn tag_end(text: &str, from: usize) -> usize {
    let mut quote = None;
    for (i, c) in text[from..].char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return from + i,
            _ => {}
        }
    }
    text.len()
}

struct Reader<'a> {
    out: &'a mut Html,
    /// Open elements and whether each hides its content.
    stack: Vec<(String, bool)>,
    anchor: Option<Anchor>,
}

impl Reader<'_> {
    fn text(&mut self, text: &str) {
        let visible = text.chars().filter(|c| !c.is_whitespace()).count();
        if visible == 0 {
            return;
        }
        if self.stack.iter().any(|(_, hidden)| *hidden) {
            self.out.hidden_chars += visible;
        } else {
            self.out.visible_chars += visible;
        }
        if let Some(anchor) = &mut self.anchor
            && anchor.text.len() < MAX_ANCHOR_TEXT
        {
            anchor.text.extend(text.chars().take(MAX_ANCHOR_TEXT));
        }
    }

    fn open(&mut self, name: &str, attrs: &str) {
        if FORBIDDEN.contains(&name) && !self.out.forbidden.iter().any(|f| f == name) {
            self.out.forbidden.push(name.to_string());
        }
        match name {
            "img" => {
                self.out.images += 1;
                if attribute(attrs, "alt").is_none() {
                    self.out.images_without_alt += 1;
                }
            }
            "a" => {
                self.finish_anchor();
                self.anchor = attribute(attrs, "href").map(|href| Anchor {
                    href: href.trim().chars().take(2000).collect(),
                    text: String::new(),
                });
            }
            _ => {}
        }
        let self_closing = attrs.trim_end().ends_with('/');
        if !VOID.contains(&name) && !self_closing && self.stack.len() < MAX_DEPTH {
            self.stack.push((name.to_string(), hides(attrs)));
        }
    }

    fn close(&mut self, name: &str) {
        if name == "a" {
            self.finish_anchor();
        }
        if let Some(i) = self.stack.iter().rposition(|(open, _)| open == name) {
            self.stack.truncate(i);
        }
    }

    fn finish_anchor(&mut self) {
        if let Some(mut anchor) = self.anchor.take()
            && self.out.anchors.len() < MAX_ANCHORS
        {
            anchor.text = decode_entities(anchor.text.trim());
            self.out.anchors.push(anchor);
        }
    }

    fn finish(mut self) {
        self.finish_anchor();
    }
}

/// Inline styles and attributes that keep text from being seen.
fn hides(attrs: &str) -> bool {
    if attribute(attrs, "hidden").is_some() {
        return true;
    }
    let Some(style) = attribute(attrs, "style") else {
        return false;
    };
    let style: String = style
        .to_ascii_lowercase()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    style.split(';').any(|declaration| {
        let declaration = declaration.trim_end_matches("!important");
        matches!(
            declaration,
            "display:none"
                | "visibility:hidden"
                | "font-size:0"
                | "font-size:0px"
                | "font-size:0pt"
                | "font-size:1px"
                | "opacity:0"
        )
    })
}

/// The value of attribute `name` (empty for a bare attribute), if present.
pub fn attribute(attrs: &str, name: &str) -> Option<String> {
    let bytes = attrs.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b'/') {
            i += 1;
        }
        let start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() && !b"=/>".contains(&bytes[i]) {
            i += 1;
        }
        let key = &attrs[start..i];
        if key.is_empty() {
            i += 1;
            continue;
        }
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if i < bytes.len() && bytes[i] == b'=' {
            i += 1;
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            if i < bytes.len() && (bytes[i] == b'"' || bytes[i] == b'\'') {
                let quote = bytes[i];
                let end = attrs[i + 1..]
                    .bytes()
                    .position(|b| b == quote)
                    .map_or(bytes.len(), |p| i + 1 + p);
                value = attrs[i + 1..end].to_string();
                i = end + 1;
            } else {
                let end = attrs[i..]
                    .bytes()
                    .position(|b| b.is_ascii_whitespace())
                    .map_or(bytes.len(), |p| i + p);
                value = attrs[i..end].to_string();
                i = end;
            }
        }
        if key.eq_ignore_ascii_case(name) {
            return Some(decode_entities(&value));
        }
    }
    None
}

/// The few entities that matter for reading link text and hrefs.
fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    text.replace("&amp;", "&")
        .replace("&nbsp;", " ")
        .replace("&#46;", ".")
        .replace("&#x2e;", ".")
        .replace("&#58;", ":")
        .replace("&#47;", "/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn html(text: &str) -> Html {
        let mut out = Html::default();
        read(text, &mut out);
        out
    }

    #[test]
    fn counts_what_filters_count() {
        let h = html(
            "<html><head><title>T</title><style>p{color:red}</style></head><body>\
             <p>Hello there</p><img src=a.png><img src=b.png alt=''>\
             <div style=\"display: none\">secret words</div><script>var x='<p>'</script>\
             <a href=\"https://bank.example/login\">www.bank.example</a><!-- <img> --></body></html>",
        );
        assert_eq!(h.visible_chars, "Hellotherewww.bank.example".len());
        assert_eq!((h.images, h.images_without_alt), (2, 1));
        assert_eq!(h.hidden_chars, "secretwords".len());
        assert_eq!(h.forbidden, vec!["script".to_string()]);
        assert_eq!(
            h.anchors,
            vec![Anchor {
                href: "https://bank.example/login".into(),
                text: "www.bank.example".into()
            }]
        );
    }

    #[test]
    fn hostile_markup_is_bounded() {
        let h = html(&"<div>".repeat(10_000));
        assert_eq!(h.visible_chars, 0);
        let h = html("<a href='x'>unterminated <b attr=\"never closed");
        assert_eq!(h.anchors.len(), 1);
        let h = html("1 < 2 and <3");
        assert_eq!(h.visible_chars, "1<2and<3".len());
    }

    #[test]
    fn attributes_in_every_quoting() {
        assert_eq!(
            attribute(" a=1 B='two' c=\"x y\" d", "b").as_deref(),
            Some("two")
        );
        assert_eq!(
            attribute(" a=1 B='two' c=\"x y\" d", "c").as_deref(),
            Some("x y")
        );
        assert_eq!(
            attribute(" a=1 B='two' c=\"x y\" d", "d").as_deref(),
            Some("")
        );
        assert_eq!(attribute(" a=1", "alt"), None);
    }
}
