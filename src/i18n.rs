//! Every phrase the pages show, in English and Japanese, side by side.
//!
//! The pages never spell a phrase themselves: they take a [`Ui`] (the
//! language's whole set of phrases) and read its fields. A phrase is added
//! once, below, with both languages on the same line, so one language cannot
//! be forgotten. A check's own phrases (what it means, the words of its
//! detail line) are declared the same way in the check's module, keyed by
//! the check. Rule titles and advice are not here: they come from the rule
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

    /// This language's page phrases.
    pub fn ui(self) -> &'static Ui {
        Ui::of(self)
    }
}

/// Declares a phrase struct from one list of `field: "English", "日本語";`
/// lines, with `of(lang)` to pick a language's instance. The pages (the
/// [`Ui`] here) and each check (its `…Words` in its own module) declare
/// theirs alike.
macro_rules! phrases {
    ($(#[$meta:meta])* $name:ident { $($(#[$doc:meta])* $field:ident: $en:expr, $ja:expr;)* }) => {
        $(#[$meta])*
        #[derive(Debug)]
        pub struct $name {
            $($(#[$doc])* pub $field: &'static str,)*
        }

        impl $name {
            /// This language's phrases.
            pub fn of(lang: $crate::i18n::Lang) -> &'static $name {
                static EN: $name = $name { $($field: $en,)* };
                static JA: $name = $name { $($field: $ja,)* };
                match lang {
                    $crate::i18n::Lang::En => &EN,
                    $crate::i18n::Lang::Ja => &JA,
                }
            }

            /// (field, English, Japanese), for the tests.
            #[cfg(test)]
            pub const PAIRS: &'static [(&'static str, &'static str, &'static str)] =
                &[$((stringify!($field), $en, $ja),)*];
        }
    };
}
pub(crate) use phrases;

phrases! {
    /// The phrases of the pages themselves; each check's own are in its
    /// module.
    Ui {
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
        pending_refresh: "The score shows here as soon as the message has been analysed.",
            "メールの分析が終わると、このページにスコアが表示されます。";
        pending_refresh_now: "Refresh", "再読み込み";
        pending_received: "The message has arrived and is being analysed.",
            "メールを受信しました。分析しています。";
        pending_nothing: "No message has arrived at this address yet. Send one to",
            "このアドレスにはまだメールが届いていません。送信先:";
        invalid_id: "Invalid test id.", "テスト ID が正しくありません。";
        no_such_send: "This address has no send with that number.", "このアドレスにはその番号の送信がありません。";
        report_unreadable: "This report could not be read (the server's log says why).", "このレポートを読み込めませんでした（理由はサーバーのログにあります）。";

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
        section_mail_server: "Your mail server (MX), probed", "送信ドメインのメールサーバー（MX）の確認";
        grade_label: "Mail server grade (MSchecker levels)", "メールサーバー判定（MSchecker の 4 段階）";
        grade_safe: "Safe", "安全";
        grade_review: "Review recommended", "見直しを推奨";
        grade_improve: "Needs improvement", "改善が必要";
        grade_danger: "Dangerous", "危険";
        grade_not_checked: "Not graded: some items could not be checked", "判定不能：確認できない項目があります";
        grade_decided_by: "because", "理由";
        grade_missing: "not checked", "未確認";
        item_open_relay: "open relay at the MX", "MX の不正中継";
        item_spf_and_dkim_not_ok: "SPF and DKIM both not OK", "SPF・DKIM ともに NG";
        item_no_tls_on_sending: "no TLS when sending", "送信時の TLS なし";
        item_mx_no_starttls: "no STARTTLS at the MX", "MX の STARTTLS 非対応";
        item_reverse_dns_fails: "reverse DNS not OK", "逆引き NG";
        item_dnssec_not_ok: "DNSSEC not OK", "DNSSEC NG";
        item_blocklisted: "on a blocklist", "ブロックリスト掲載";
        changes_setup: "setup", "設定";
        changes_readiness: "readiness", "要件への対応";
        changes_score: "Score", "スコア";
        changes_gained: "Now deducted", "新たな減点";
        changes_lost: "No longer deducted", "解消した減点";
        changes_none: "Nothing changed: the same results as that send.", "変化はありません（前回と同じ結果です）。";
        changes_see: "What changed", "変化を見る";
        changes_previous: "The report of that send", "その回のレポート";
        survey_skipped: "Archive entries that were not mail (skipped)", "メールでなかったため読み飛ばしたもの";
        survey_combinations: "Table 1: mechanisms each sender has set", "表 1: 送信者ごとの送信ドメイン認証等の設定の組み合わせ";
        survey_senders: "Senders", "送信者数";
        survey_total: "Total", "合計";
        survey_marks: "✔ set up; – not set up, set up wrongly or not checked. Percentages of all senders, rounded half-up to one decimal.", "✔ 設定あり、– 設定なし・設定誤り・未確認。割合は全送信者に対する値で、小数第 2 位を四捨五入しています。";
        survey_mechanisms: "Each mechanism", "方式ごとの設定状況";
        survey_cross: "Cross tables", "クロス集計";
        survey_of_set: "Of the senders with this set up:", "次を設定している送信者のうち:";
        survey_mschecker: "Mail servers (MSchecker's figures)", "メールサーバー（MSchecker の集計項目）";
        survey_outside: "Senders outside", "次のドメイン以外の送信者";
        survey_sender_list: "Senders", "送信者一覧";
        survey_messages: "Messages", "通数";
        survey_changed: "changed", "変化あり";
        survey_yes: "yes", "あり";
        survey_no: "no", "なし";
        survey_not_checked: "not checked", "未確認";
        survey_tls_receive: "TLS when sending to the receiver", "受信側への送信時の TLS";
        survey_tls_send: "STARTTLS at the sender's MX", "送信者の MX の STARTTLS";
        survey_spf_dkim: "SPF and DKIM", "SPF と DKIM";
        survey_both_ok: "both OK", "両方 OK";
        survey_one_ok: "one OK", "片方 OK";
        survey_both_ng: "both NG", "両方 NG";
        survey_rdns: "Reverse DNS", "逆引き DNS";
        survey_dnssec: "DNSSEC", "DNSSEC";
        survey_dnsbl: "Blocklists", "ブロックリスト";
        survey_ok: "OK", "OK";
        survey_ng: "NG", "NG";
        survey_listed: "listed", "掲載あり";
        survey_address: "Send to", "送信先";
        survey_address_hint: "any label of 1–40 of a–z, 0–9 and -, e.g. the newsletter's name", "ラベルは a–z・0–9・- の 1～40 文字（例: メールマガジン名）";
        survey_download: "Download", "ダウンロード";
        survey_scroll: "Table (scrolls sideways)", "表（横にスクロールできます）";
        survey_sort: "Sort by", "並べ替え";
        survey_latest_report: "latest report", "最新のレポート";
        survey_none_yet: "No mail has been counted in this survey yet.", "この調査にはまだメールが届いていません。";
        survey_clean: "not listed", "掲載なし";
        standing_label: "Sender setup and readiness", "送信設定と受信側要件への対応";
        readiness_label: "Ready for the big mailbox providers' sender requirements?", "大手メールサービスの送信者要件への対応";
        readiness_provider: "Provider", "サービス";
        readiness_all: "All senders", "すべての送信者";
        readiness_bulk: "Bulk senders (over 5,000 a day)", "大量送信者（1 日 5,000 通超）";
        ready_yes: "Ready", "対応済み";
        ready_no: "Not ready", "未対応";
        ready_not_checked: "Could not check", "確認不可";
        ready_none: "No requirements published", "要件の公開なし";
        ready_failing: "Not met", "満たしていない要件";
        ready_unchecked: "Not checked", "未確認";
        ready_advised: "Recommended", "推奨";
        readiness_page_of: "requirements page of", "要件ページの版：";
        setup_grid_label: "Anti-spoofing setup (as the JIPDEC survey counts it)", "なりすまし対策の設定状況（JIPDEC 調査の区分）";
        section_message: "Message", "メッセージ";
        section_raw: "Raw message", "メッセージのソース";

        // Inside a check row.
        what_it_means: "What it means:", "概要：";
        record_found: "Record found:", "見つかったレコード：";
        how_to_fix: "How to fix:", "対処方法：";
        points_lost: "Points lost", "減点";
        fix_first: "Fix these first", "まず直すこと";
        fix_nothing: "Nothing to fix: no rule took points.", "直すことはありません：減点はありません。";
        deductions_total: "Deductions total", "減点の合計";
        score_stops_at_zero: "the score stops at 0", "スコアは 0 で止まります";
        could_not_check: "Could not check (left out of the score)", "確認できませんでした（スコアに含めていません）";
        analysis_failed: "The analysis of this message failed (a bug in mailscore, logged); nothing here was checked or scored", "このメッセージの解析に失敗しました（mailscore の不具合、ログに記録済み）。確認も採点もしていません";
        stage_checks: "could not check the message", "メッセージを確認できませんでした";
        stage_score: "could not score the message", "採点できませんでした";
        stage_report: "could not build the report", "レポートを作成できませんでした";
        stage_survey: "could not count the message in its survey", "調査に集計できませんでした";
        stage_webhook: "could not queue the report for its webhook", "Webhook への送信を予約できませんでした";
        stage_store: "could not store the report", "レポートを保存できませんでした";
        section_rules: "Rules for this section", "このセクションのルール";
        good_to_have: "Good to have (no points)", "さらに良くするには（減点なし）";

        // Setup labels.
        setup_configured: "set up", "設定あり";
        setup_missing: "not set up", "設定なし";
        setup_misconfigured: "misconfigured", "設定誤り";
        setup_unknown: "could not check", "確認不可";
        yes: "yes", "あり";
        no: "no", "なし";

        // What each check is, one sentence each.

        // Details of the authentication and host rows.
        // SPF detail: the term that decided, and the lookups against RFC 7208's limits.
        bits: "bits", "ビット";

        // S/MIME, blocklists and posture rows.
        smime_trusted_badge: "Signed with a trusted S/MIME certificate",
            "信頼された S/MIME 証明書で署名されています";

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

        // Content and format section, SpamAssassin and Rspamd.
        section_content: "Content and format", "内容と形式";
        section_spamassassin: "SpamAssassin", "SpamAssassin（迷惑メール判定）";
        section_rspamd: "Rspamd", "Rspamd（迷惑メール判定）";
    }
}

impl Ui {
    pub fn yes_no(&self, value: bool) -> &'static str {
        if value { self.yes } else { self.no }
    }
}

/// A phrase left in English on the Japanese side is the usual slip;
/// protocol names are the same in both.
#[cfg(test)]
pub fn assert_translated(pairs: &[(&str, &str, &str)]) {
    {
        const SAME_IN_BOTH: &[&str] = &["message_id"];
        let untranslated: Vec<&str> = pairs
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
            pairs
                .iter()
                .all(|(_, en, ja)| !en.is_empty() && !ja.is_empty())
        );
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
        assert_translated(Ui::PAIRS);
    }
}
