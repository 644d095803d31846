//! The result words of the page's rows (`pass`, `listed`, `open_relay`…)
//! in the page's language. The report and the rule table keep the English
//! words; on a Japanese page each shows as Japanese, so no status stays
//! English on `?lang=ja` (a word this table lacks is shown as it is, and
//! `tests/japanese_words.rs` fails on it).

use crate::i18n::Lang;

/// `word` as the `lang` page shows it.
pub fn shown(lang: Lang, word: &'static str) -> &'static str {
    match lang {
        Lang::En => word,
        Lang::Ja => japanese(word).unwrap_or(word),
    }
}

/// Every word's Japanese, when it has one.
pub fn japanese(word: &str) -> Option<&'static str> {
    Some(match word {
        // RFC 8601 results.
        "pass" => "成功",
        "fail" => "失敗",
        "softfail" => "ソフト失敗",
        "neutral" => "中立",
        "none" => "なし",
        "permerror" => "恒久エラー",
        "temperror" => "一時エラー",
        // Records and lists.
        "present" => "あり",
        "absent" => "なし",
        "invalid" => "無効",
        "unknown" => "不明",
        "null" => "受信拒否（null MX）",
        "listed" => "掲載あり",
        "clean" => "掲載なし",
        "skipped" => "対象外",
        // TLS, HELO, S/MIME, Message-ID.
        "encrypted" => "暗号化",
        "plaintext" => "平文",
        "match" => "一致",
        "mismatch" => "不一致",
        "unresolvable" => "名前解決不可",
        "trusted" => "信頼済み",
        "untrusted" => "未信頼",
        "expired" => "期限切れ",
        "aligned" => "一致",
        "foreign" => "別組織",
        // SpamAssassin, content (by points).
        "checked" => "確認済み",
        "not_checked" => "未確認",
        "not_configured" | "not configured" => "未設定",
        "ok" => "良好",
        "attention" => "要注意",
        "problem" => "問題あり",
        // The sender's mail servers.
        "off" => "無効",
        "timed_out" => "時間切れ",
        "probed" => "確認済み",
        "exchangers" => "MX あり",
        "null_mx" => "受信なし",
        "nowhere" => "受信先なし",
        "open_relay" => "不正中継",
        "no_starttls" => "STARTTLS なし",
        "completed" => "確認済み",
        "refused" => "対象外",
        "unreachable" => "接続不可",
        "failed" => "確認不可",
        "valid" => "有効",
        "mx_mismatch" => "MX 不一致",
        "not_published" => "未公開",
        // DNSSEC validated.
        "secure" => "検証成功",
        "insecure" => "署名なし",
        "bogus" => "検証失敗",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::mail_server::{ProbeStatus, TargetsFound, host::Reached, mta_sts::StsState};
    use crate::checks::{CheckId, Verdict, posture::validation};

    #[test]
    fn every_result_word_has_japanese() {
        let results = CheckId::ALL
            .into_iter()
            .filter_map(|check| check.values("result"))
            .flatten()
            .copied();
        let others = [
            Verdict::WORDS,
            ProbeStatus::WORDS,
            Reached::WORDS,
            TargetsFound::WORDS,
            StsState::WORDS,
            validation::WORDS,
            &[
                "ok",
                "attention",
                "problem",
                "open_relay",
                "no_starttls",
                "present",
                "absent",
                "null",
            ],
        ]
        .into_iter()
        .flatten()
        .copied();
        for word in results.chain(others) {
            let ja = japanese(word).unwrap_or_else(|| panic!("{word:?} has no Japanese"));
            assert!(!ja.is_ascii(), "{word:?} → {ja:?}");
            assert_eq!(shown(Lang::En, word), word);
        }
    }
}
