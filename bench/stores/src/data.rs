//! Deterministic mail-like bytes: no two messages alike, text about as
//! compressible as real mail, and base64 attachments in the large ones.

/// splitmix64: a fresh stream from any seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const WORDS: &[&str] = &[
    "the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "as", "was", "with", "be",
    "by", "on", "not", "he", "this", "are", "or", "his", "from", "at", "which", "but", "have",
    "an", "had", "they", "you", "were", "their", "one", "all", "we", "can", "her", "has",
    "there", "been", "if", "more", "when", "will", "would", "who", "so", "no", "order",
    "invoice", "account", "delivery", "newsletter", "offer", "please", "regards", "meeting",
    "tomorrow", "attached", "report", "customer", "shipping", "password", "update", "security",
    "unsubscribe", "discount", "subscription", "confirm", "schedule", "project", "review",
    "lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit", "sed", "do",
    "eiusmod", "tempor", "incididunt", "ut", "labore", "et", "dolore", "magna", "aliqua",
    "quarterly", "results", "€", "€49.99", "https://example.com/track?id=", "Monday", "Friday",
];

fn token(rng: &mut Rng, alphabet: &[u8], len: usize) -> String {
    (0..len).map(|_| alphabet[rng.below(alphabet.len())] as char).collect()
}

/// The test id of message `n`: 20 random-looking characters, as mailscore's
/// ids are, so keys arrive in no order.
pub fn id(n: u64) -> Vec<u8> {
    let mut rng = Rng::new(n ^ 0x1D5_EED);
    token(&mut rng, ALNUM, 20).into_bytes()
}

fn text(rng: &mut Rng, out: &mut String, bytes: usize) {
    let start = out.len();
    let mut line = 0;
    while out.len() - start < bytes {
        let word = WORDS[rng.below(WORDS.len())];
        out.push_str(word);
        if word.ends_with('=') {
            out.push_str(&token(rng, ALNUM, 16));
        }
        line += word.len() + 1;
        if rng.below(14) == 0 {
            out.push_str(".\r\n");
            line = 0;
        } else if line > 70 {
            out.push_str("\r\n");
            line = 0;
        } else {
            out.push(' ');
        }
    }
}

fn base64_lines(rng: &mut Rng, out: &mut String, bytes: usize) {
    let start = out.len();
    while out.len() - start < bytes {
        out.push_str(&token(rng, B64, 76));
        out.push_str("\r\n");
    }
}

/// A raw message of about `size` bytes for message `n`: a header block
/// (Received, DKIM-Signature, ...) and a text body; past 8 KB, most of it a
/// base64 attachment, as large real messages are.
pub fn message(n: u64, size: usize) -> Vec<u8> {
    let mut rng = Rng::new(n.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ size as u64);
    let id = String::from_utf8(id(n)).expect("ascii");
    let host = token(&mut rng, ALNUM, 8);
    let mut m = String::with_capacity(size + 200);
    m.push_str(&format!(
        "Received: from mail-{host}.example.net (mail-{host}.example.net [192.0.2.{}])\r\n\tby mailscore.test with ESMTPS id {}\r\n\tfor <{id}@mailscore.test>; Sat, 5 Dec 2026 12:{:02}:{:02} +0000\r\n",
        rng.below(254) + 1,
        token(&mut rng, ALNUM, 12),
        rng.below(60),
        rng.below(60)
    ));
    m.push_str(&format!(
        "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.net; s=s{};\r\n\th=from:to:subject:date:message-id; bh={}=;\r\n\tb={}\r\n",
        rng.below(9),
        token(&mut rng, B64, 43),
        token(&mut rng, B64, 340)
    ));
    m.push_str(&format!(
        "From: \"{} {}\" <{}@example.net>\r\nTo: {id}@mailscore.test\r\nSubject: Your {} {} #{}\r\nDate: Sat, 5 Dec 2026 12:00:00 +0000\r\nMessage-ID: <{}@example.net>\r\nMIME-Version: 1.0\r\n",
        WORDS[rng.below(WORDS.len())],
        WORDS[rng.below(WORDS.len())],
        token(&mut rng, ALNUM, 7),
        WORDS[rng.below(WORDS.len())],
        WORDS[rng.below(WORDS.len())],
        rng.next() % 100_000,
        token(&mut rng, ALNUM, 24)
    ));
    if size <= 8 * 1024 {
        m.push_str("Content-Type: text/plain; charset=utf-8\r\n\r\n");
        let rest = size.saturating_sub(m.len());
        text(&mut rng, &mut m, rest);
    } else {
        m.push_str("Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n");
        text(&mut rng, &mut m, size / 4);
        m.push_str("\r\n--b1\r\nContent-Type: application/pdf; name=\"invoice.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n");
        let rest = size.saturating_sub(m.len() + 10);
        base64_lines(&mut rng, &mut m, rest);
        m.push_str("--b1--\r\n");
    }
    let mut bytes = m.into_bytes();
    bytes.truncate(size);
    bytes
}

/// A report of about 3 KB of JSON for message `n`.
pub fn report(n: u64) -> Vec<u8> {
    let mut rng = Rng::new(n ^ 0xA11_CE);
    let id = String::from_utf8(id(n)).expect("ascii");
    let mut r = format!(
        "{{\"id\":\"{id}\",\"score\":{}.{},\"received\":\"2026-12-05T12:{:02}:{:02}Z\",\"from\":\"{}@example.net\",\"checks\":[",
        rng.below(10),
        rng.below(10),
        rng.below(60),
        rng.below(60),
        token(&mut rng, ALNUM, 7)
    );
    let names = ["spf", "dkim", "dmarc", "iprev", "arc", "rbl", "content", "html", "links", "headers", "smime", "mx"];
    let results = ["pass", "fail", "neutral", "softfail", "none", "temperror"];
    let mut first = true;
    while r.len() < 2900 {
        if !first {
            r.push(',');
        }
        first = false;
        let mut detail = String::new();
        let len = 80 + rng.below(120);
        text(&mut rng, &mut detail, len);
        r.push_str(&format!(
            "{{\"name\":\"{}\",\"result\":\"{}\",\"penalty\":-{}.{},\"detail\":\"{}\"}}",
            names[rng.below(names.len())],
            results[rng.below(results.len())],
            rng.below(3),
            rng.below(10),
            detail.replace("\r\n", " ")
        ));
    }
    r.push_str("]}");
    r.into_bytes()
}
