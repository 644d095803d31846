//! Every phrase the pages show, in English and Japanese, side by side.
//!
//! The pages never spell a phrase themselves: they take a [`Ui`] (the
//! language's whole set of phrases) and read its fields. A phrase is added
//! once, below, with both languages on the same line, so one language cannot
//! be forgotten. Rule titles and advice are not here: they come from the rule
//! table, which carries both languages too. Result words (`pass`, `fail`,
//! `listed`…) are the RFC's and stay as they are in both languages.

/// The language of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Ja,
}

impl Lang {
    /// `?lang=` first, then the first supported language in Accept-Language,
    /// then English.
    pub fn choose(query: Option<&str>, accept_language: Option<&str>) -> Lang {
        match query {
            Some("ja") => return Lang::Ja,
            Some("en") => return Lang::En,
            _ => {}
        }
        let accept = accept_language.unwrap_or("").to_ascii_lowercase();
        for tag in accept.split(',') {
            let tag = tag.split(';').next().unwrap_or("").trim();
            if tag.starts_with("ja") {
                return Lang::Ja;
            }
            if tag.starts_with("en") {
                return Lang::En;
            }
        }
        Lang::En
    }

    /// "ja" is Japanese; anything else is English.
    pub fn from_code(code: &str) -> Lang {
        if code.eq_ignore_ascii_case("ja") {
            Lang::Ja
        } else {
            Lang::En
        }
    }

    /// The BCP 47 tag, for `<html lang>` and `?lang=`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ja => "ja",
        }
    }

    /// The language a page offers to switch to.
    pub fn other(self) -> Lang {
        match self {
            Lang::En => Lang::Ja,
            Lang::Ja => Lang::En,
        }
    }

    /// This language's phrases.
    pub fn ui(self) -> &'static Ui {
        match self {
            Lang::En => &EN,
            Lang::Ja => &JA,
        }
    }
}

/// Declares [`Ui`] and its two instances from one list of
/// `field: "English", "日本語";` lines.
macro_rules! phrases {
    ($($(#[$doc:meta])* $field:ident: $en:expr, $ja:expr;)*) => {
        /// The phrases of one language. See the module docs.
        #[derive(Debug)]
        pub struct Ui {
            $($(#[$doc])* pub $field: &'static str,)*
        }

        pub static EN: Ui = Ui { $($field: $en,)* };
        pub static JA: Ui = Ui { $($field: $ja,)* };

        /// (field, English, Japanese), for the tests.
        #[cfg(test)]
        static PAIRS: &[(&str, &str, &str)] = &[$((stringify!($field), $en, $ja),)*];
    };
}

phrases! {
    /// The name of this language, shown on the other language's pages.
    language_name: "English", "日本語";
    /// `<nav>` label of the language switch.
    language_switch: "Language", "言語";

    // Landing page.
    landing_send: "Send a message to this address from the system you want to test:",
        "テストしたいシステムから、このアドレスにメールを送ってください：";
    landing_then: "Then open your score. The address stays valid; mail it again to re-test.",
        "送信後、スコアを確認してください。アドレスはそのまま使えます。再送すると再テストします。";
    check_score: "Then check your score", "スコアを確認する";
    address_label: "Test address", "テスト用アドレス";
    copy: "Copy", "コピー";
    copied: "Copied", "コピーしました";
    api_heading: "From a script or CI", "スクリプト・CI から";
    api_create: "returns a fresh address as JSON.", "新しいアドレスを JSON で返します。";
    api_wait: "waits up to 30 seconds for the report, then returns it (or \"pending\").",
        "レポートができるまで最大 30 秒待ってから返します（未着なら \"pending\"）。";
    api_badge: "is a score badge for a README or a dashboard.",
        "README やダッシュボードに貼れるスコアバッジです。";

    // Pending page.
    pending_title: "Waiting for your message", "メールの到着を待っています";
    pending_refresh: "This page refreshes itself every few seconds until the message arrives.",
        "メールが届くまで、このページは数秒ごとに自動で更新されます。";
    pending_received: "The message has arrived and is being analysed.",
        "メールを受信しました。分析しています。";
    invalid_id: "Invalid test id.", "テスト ID が正しくありません。";

    // Score and verdicts, by band.
    verdict_excellent: "Excellent: this message is well authenticated.",
        "優秀：このメールは正しく認証されています。";
    verdict_good: "Good, with a few things to fix.", "良好：いくつか改善点があります。";
    verdict_fair: "Fair: receivers may treat this as suspicious.",
        "普通：受信側で不審なメールと扱われる可能性があります。";
    verdict_poor: "Poor: this message is likely to land in spam.",
        "不良：迷惑メールと判定される可能性が高いです。";
    verdict_bad: "Bad: this message looks spoofed or will be rejected.",
        "危険：なりすましと判定されるか、拒否されます。";
    score_label: "Score", "スコア";
    contents: "Contents", "目次";

    // Section headings, in page order.
    section_auth: "Authentication", "送信ドメイン認証";
    section_host: "Sending host and TLS", "送信サーバーと TLS";
    section_smime: "S/MIME", "S/MIME";
    section_blocklists: "Blocklists", "ブロックリスト";
    section_posture: "From-domain posture", "From ドメインの設定状況";
    section_message: "Message", "メッセージ";
    section_raw: "Raw message", "メッセージのソース";

    // Inside a check row.
    what_it_means: "What it means:", "概要：";
    record_found: "Record found:", "見つかったレコード：";
    how_to_fix: "How to fix:", "対処方法：";
    points_lost: "Points lost", "減点";
    section_rules: "Rules for this section", "このセクションのルール";

    // Setup labels.
    setup_configured: "set up", "設定あり";
    setup_missing: "not set up", "設定なし";
    setup_misconfigured: "misconfigured", "設定誤り";
    setup_unknown: "could not check", "確認不可";
    yes: "yes", "あり";
    no: "no", "なし";

    // What each check is, one sentence each.
    about_spf: "SPF lets the MAIL FROM domain list the servers allowed to send its mail; receivers check the sending IP against that list.",
        "SPF は、MAIL FROM のドメインがメール送信を許可するサーバーを公開する仕組みです。受信側は送信元 IP をこの一覧と照合します。";
    about_spf_helo: "The same SPF check for the name the server gave in HELO/EHLO; receivers use it for bounces, whose MAIL FROM is empty.",
        "HELO/EHLO で名乗ったホスト名に対する同じ SPF 検査です。MAIL FROM が空のエラーメールで使われます。";
    about_dkim: "DKIM signs the message with a key published in DNS, so receivers can tell it was not changed on the way and which domain vouches for it.",
        "DKIM は DNS に公開した鍵でメールに署名し、途中で改ざんされていないことと、保証するドメインを受信側が確認できるようにします。";
    about_dmarc: "DMARC ties SPF and DKIM to the From address people see, and tells receivers what to do with mail that fails (p=none, quarantine or reject).",
        "DMARC は SPF と DKIM の結果を受信者に見える From アドレスと結び付け、認証に失敗したメールの扱い（p=none / quarantine / reject）を受信側に伝えます。";
    about_arc: "ARC records the authentication results that forwarders and mailing lists saw, so a receiver can still judge mail whose SPF or DKIM forwarding broke.",
        "ARC は転送サーバーやメーリングリストが確認した認証結果を記録し、転送で SPF や DKIM が壊れたメールでも受信側が判断できるようにします。";
    about_iprev: "The sending IP should have a reverse DNS (PTR) name that resolves back to the same IP and does not look like a home connection.",
        "送信元 IP には逆引き（PTR）名があり、その名前が同じ IP に正引きでき、一般家庭向け回線のような名前でないことが求められます。";
    about_helo: "The name the server introduced itself with (HELO/EHLO) should be a real host name that resolves to the sending IP.",
        "送信サーバーが HELO/EHLO で名乗るホスト名は、送信元 IP に解決される実在のホスト名であるべきです。";
    about_tls: "Whether the message reached us over an encrypted connection (STARTTLS); receivers increasingly expect it.",
        "メールが暗号化された接続（STARTTLS）で届いたかどうかです。受信側は暗号化を前提とすることが増えています。";
    about_smime: "S/MIME signs the message with a personal certificate from a certificate authority, proving end to end who sent it.",
        "S/MIME は認証局が発行した個人証明書でメールに署名し、送信者をエンドツーエンドで証明します。";
    about_ip_blocklists: "DNS blocklists (DNSBL) list IP addresses known to send spam; a listing often means outright rejection.",
        "DNS ブロックリスト（DNSBL）は迷惑メールを送信している IP アドレスを掲載しています。掲載されていると受信拒否されることがよくあります。";
    about_domain_blocklists: "Domain blocklists list domains seen in spam and phishing; the From domain, the DKIM signers and the domains of links are checked.",
        "ドメインブロックリストは迷惑メールやフィッシングで使われたドメインを掲載しています。From ドメイン、DKIM 署名ドメイン、リンク先のドメインを確認します。";
    about_mx: "MX records say where the From domain receives mail; replies and bounces to a domain without them go nowhere.",
        "MX レコードは From ドメインのメール受信先を示します。ない場合、返信やエラーメールが届きません。";
    about_dnssec: "DNSSEC signs the domain's DNS records, so SPF, DKIM and DMARC answers cannot be forged on the way.",
        "DNSSEC はドメインの DNS レコードに署名し、SPF・DKIM・DMARC の応答が途中で偽造されないようにします。";
    about_mta_sts: "MTA-STS tells senders to deliver to this domain only over verified TLS.",
        "MTA-STS は、このドメイン宛てのメールを検証済みの TLS でのみ配送するよう送信側に求めます。";
    about_tls_rpt: "TLS-RPT asks senders to report failed TLS deliveries to the domain owner.",
        "TLS-RPT は、TLS での配送失敗をドメイン管理者に報告するよう送信側に求めます。";
    about_bimi: "BIMI publishes a brand logo that some mailboxes show next to authenticated mail; it needs an enforcing DMARC policy.",
        "BIMI は、認証済みメールの横に表示されるブランドロゴを公開します。DMARC の強制ポリシーが必要です。";

    // Details of the authentication and host rows.
    no_dkim_signature: "No DKIM-Signature header.", "DKIM-Signature ヘッダーがありません。";
    // SPF detail: the term that decided, and the lookups against RFC 7208's limits.
    spf_matched: "Matched", "一致した項目";
    spf_dns_lookups: "DNS lookups", "DNS 参照";
    spf_void_lookups: "void lookups", "空の参照";
    third_party_signature: "third-party signature (not the From domain)",
        "第三者署名（From ドメインではない）";
    body_length_limited: "l=: only part of the body is signed", "l=：本文の一部のみ署名";
    dkim_signed_headers: "Signed headers (h=)", "署名対象のヘッダー（h=）";
    bits: "bits", "ビット";
    aligned: "aligned", "アライメント";
    policy_from: "policy from", "適用レコード";
    /// DMARC by RFC 9989's tree walk, when it differs from the RFC 7489 verdict.
    dmarcbis_differs: "DMARCbis (RFC 9989, DNS tree walk) would say",
        "DMARCbis（RFC 9989、DNS ツリーウォーク）では";
    dmarcbis_today: "receivers today follow the verdict above (RFC 7489, Public Suffix List)",
        "現在の受信側は上の判定（RFC 7489、Public Suffix List）に従います";
    arc_none: "No ARC headers: the message did not pass through a forwarder or mailing list that seals it.",
        "ARC ヘッダーはありません（ARC 署名を付ける転送サーバーやメーリングリストを経由していません）。";
    arc_set: "set", "セット";
    arc_sets: "sets", "セット";
    reverse_dns: "Reverse DNS", "逆引き DNS";
    generic_name: "looks like a dynamic/end-user name", "動的・一般利用者向けの名前に見えます";

    // S/MIME, blocklists and posture rows.
    smime_trusted_badge: "Signed with a trusted S/MIME certificate",
        "信頼された S/MIME 証明書で署名されています";
    issuer: "issuer", "発行者";
    valid: "valid", "有効期間";
    ip_blocklists: "IP blocklists", "IP ブロックリスト";
    domain_blocklists: "Domain blocklists", "ドメインブロックリスト";
    listed_by: "listed by", "掲載:";
    not_checked: "not checked", "未確認";
    checked: "checked", "確認済み";
    null_mx: "null MX: accepts no mail", "null MX：メールを受信しません";

    // Message table.
    received: "Received", "受信日時";
    client: "Client", "送信元";
    helo: "HELO", "HELO";
    mail_from: "MAIL FROM", "MAIL FROM";
    rcpt_to: "RCPT TO", "RCPT TO";
    from: "From", "From";
    subject: "Subject", "件名";
    message_id: "Message-ID", "Message-ID";
    size: "Size", "サイズ";
    bytes: "bytes", "バイト";

    // Raw message.
    headers: "Headers", "ヘッダー";
    view_raw: "View the raw message", "メッセージのソースを表示";
    download_eml: "Download (.eml)", "ダウンロード（.eml）";
    links_not_fetched: "mailscore never opens the links in your message: it only looks their domains up in DNS blocklists.", "mailscore はメール内のリンクを開きません。リンク先のドメインを DNS ブロックリストで照会するだけです。";
    back_to_report: "Back to the report", "レポートに戻る";
    /// `{shown}` and `{total}` are byte counts.
    raw_truncated: "Showing the first {shown} of {total} bytes; download the message to see all of it.",
        "全 {total} バイトのうち先頭 {shown} バイトを表示しています。全体はダウンロードして確認してください。";

    // Footer.
    json_report: "JSON report", "JSON レポート";
    score_badge: "Score badge", "スコアバッジ";

    // Content and format section, and SpamAssassin.
    section_content: "Content and format", "内容と形式";
    section_spamassassin: "SpamAssassin", "SpamAssassin（迷惑メール判定）";
    content_bulk: "Bulk-mail headers", "一括送信用ヘッダー";
    content_body: "Body and HTML", "本文と HTML";
    content_links: "Links", "リンク";
    content_attachments: "Attachments", "添付ファイル";
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
    about_spamassassin: "SpamAssassin, the filter many receivers run, scored the message; its threshold for spam is usually 5.",
        "多くの受信側が使う迷惑メールフィルター SpamAssassin による評価です。通常、5 点以上で迷惑メールと判定されます。";
    spamassassin_not_configured: "Not configured: this mailscore does not run SpamAssassin (spamd).",
        "未設定：この mailscore では SpamAssassin（spamd）を使用していません。";
    profile: "profile", "プロファイル";
    display_name: "display name", "差出人名";
    links_found: "links", "リンク数";
    images_label: "images", "画像";
    without_alt: "without alt", "alt なし";
    text_alternative: "text alternative", "テキスト版";
    no_attachments: "No attachments.", "添付ファイルはありません。";
    score_of: "score", "スコア";
}

impl Ui {
    /// The verdict line of a score band.
    pub fn verdict(&self, band: crate::report::Band) -> &'static str {
        use crate::report::Band;
        match band {
            Band::Excellent => self.verdict_excellent,
            Band::Good => self.verdict_good,
            Band::Fair => self.verdict_fair,
            Band::Poor => self.verdict_poor,
            Band::Bad => self.verdict_bad,
        }
    }

    /// The label of a sender's setup.
    pub fn setup(&self, setup: crate::checks::Setup) -> &'static str {
        use crate::checks::Setup;
        match setup {
            Setup::Configured => self.setup_configured,
            Setup::Missing => self.setup_missing,
            Setup::Misconfigured => self.setup_misconfigured,
            Setup::Unknown => self.setup_unknown,
        }
    }

    pub fn yes_no(&self, value: bool) -> &'static str {
        if value { self.yes } else { self.no }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_wins_over_accept_language() {
        assert_eq!(Lang::choose(Some("en"), Some("ja")), Lang::En);
        assert_eq!(Lang::choose(Some("ja"), None), Lang::Ja);
    }

    #[test]
    fn first_supported_accept_language_wins() {
        assert_eq!(Lang::choose(None, Some("fr, ja-JP;q=0.8, en")), Lang::Ja);
        assert_eq!(Lang::choose(Some("de"), Some("en-GB,ja")), Lang::En);
        assert_eq!(Lang::choose(None, None), Lang::En);
    }

    #[test]
    fn japanese_phrases_are_translated() {
        // A phrase left in English on the Japanese side is the usual slip;
        // protocol names are the same in both.
        const SAME_IN_BOTH: &[&str] = &["message_id"];
        let untranslated: Vec<&str> = PAIRS
            .iter()
            .filter(|(field, en, ja)| {
                en == ja
                    && !SAME_IN_BOTH.contains(field)
                    && en.chars().filter(char::is_ascii_lowercase).count() > 3
            })
            .map(|(field, _, _)| *field)
            .collect();
        assert!(untranslated.is_empty(), "untranslated: {untranslated:?}");
        assert!(
            PAIRS
                .iter()
                .all(|(_, en, ja)| !en.is_empty() && !ja.is_empty())
        );
    }
}
