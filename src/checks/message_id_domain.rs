//! Whose Message-ID is it? RFC 5322 §3.6.4 asks for a Message-ID unique
//! to the host that made it, and the right-hand side is usually that host's
//! domain. A Message-ID in the From domain's organisation says the mail was
//! made by the sender's own systems; one in another organisation is normal
//! for mail made by an email service provider, and is a hint worth showing
//! (filters compare the two); no domain at all leaves nothing to compare.
//! Presence and syntax are the `headers` check's business.

use super::CheckId;
use super::content::domains::domain_of;
use super::facts::{Facts, Field, words};
use super::message::MessageFacts;
use super::row::{Row, Tone};
use crate::dns::org_domain::aligned;
use crate::i18n::{Lang, phrases};
use serde::{Deserialize, Serialize};

words! {
    /// How the Message-ID's domain stands to the From domain.
    MessageIdDomain { Unknown => "unknown", Aligned => "aligned", Foreign => "foreign" }
}

/// Whose domain the Message-ID is in, against the From domain's organisation
/// (Public Suffix List).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct MessageIdDomainFinding {
    /// `unknown`: no Message-ID domain or From domain to compare.
    pub result: MessageIdDomain,
    /// The right-hand side of the Message-ID, lower-cased.
    pub message_id_domain: Option<String>,
    /// The From address's domain, lower-cased.
    pub from_domain: Option<String>,
}

/// The Message-ID's domain against the From domain, by organisational
/// domain (RFC 7489 §3.2, as DMARC's relaxed alignment).
pub fn verdict(message: &MessageFacts) -> MessageIdDomainFinding {
    // A name without a dot (`localhost`) is no domain to compare.
    let domain = |value: &Option<String>| {
        value
            .as_deref()
            .and_then(domain_of)
            .filter(|d| d.contains('.'))
    };
    let message_id_domain = domain(&message.message_id);
    let from_domain = domain(&message.from_address);
    let result = match (&message_id_domain, &from_domain) {
        (Some(id), Some(from)) if aligned(id, from, false) => MessageIdDomain::Aligned,
        (Some(_), Some(_)) => MessageIdDomain::Foreign,
        _ => MessageIdDomain::Unknown,
    };
    MessageIdDomainFinding {
        result,
        message_id_domain,
        from_domain,
    }
}

/// The rule fields of `message_id_domain`.
pub const FIELDS: &[Field] = &[("result", MessageIdDomain::WORDS)];

phrases! {
    /// The page's words for this check, in English and Japanese.
    MessageIdDomainWords {
        name: "Message-ID domain", "Message-ID のドメイン";
        about: "The domain after the @ of the Message-ID names the system that made the message; in the From domain's organisation, it shows the mail came from the sender's own systems.",
            "Message-ID の @ 以降のドメインは、メールを作成したシステムを示します。From ドメインと同じ組織であれば、送信者自身のシステムから送られたことがわかります。";
        no_domain: "No Message-ID domain or From domain to compare.",
            "比較できる Message-ID のドメインまたは From ドメインがありません。";
    }
}

impl MessageIdDomainFinding {
    pub fn facts(&self, facts: &mut Facts) {
        facts.put(CheckId::MessageIdDomain, "result", self.result.as_str());
    }

    pub fn row(&self, lang: Lang) -> Row {
        let w = MessageIdDomainWords::of(lang);
        let tone = match self.result {
            MessageIdDomain::Aligned => Tone::Ok,
            MessageIdDomain::Foreign | MessageIdDomain::Unknown => Tone::Info,
        };
        let detail = match (&self.message_id_domain, &self.from_domain) {
            (Some(id), Some(from)) => format!("Message-ID: {id} · From: {from}"),
            _ => w.no_domain.to_string(),
        };
        Row {
            check: CheckId::MessageIdDomain,
            tone: Some(tone),
            name: w.name.into(),
            word: Some(self.result.as_str()),
            setup: "",
            about: w.about,
            detail,
            records: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(message_id: Option<&str>, from: Option<&str>) -> MessageFacts {
        MessageFacts {
            message_id: message_id.map(String::from),
            from_address: from.map(String::from),
            ..MessageFacts::default()
        }
    }

    #[test]
    fn a_subdomain_of_the_from_organisation_is_aligned() {
        let f = verdict(&message(
            Some("x1@Mail.Brand.example"),
            Some("news@brand.example"),
        ));
        assert_eq!(f.result, MessageIdDomain::Aligned);
        assert_eq!(f.message_id_domain.as_deref(), Some("mail.brand.example"));
    }

    #[test]
    fn a_provider_domain_is_foreign_across_a_public_suffix() {
        let f = verdict(&message(Some("x1@esp.co.jp"), Some("news@brand.co.jp")));
        assert_eq!(f.result, MessageIdDomain::Foreign);
    }

    #[test]
    fn nothing_to_compare_is_unknown() {
        assert_eq!(
            verdict(&message(None, Some("a@brand.example"))).result,
            MessageIdDomain::Unknown
        );
        assert_eq!(
            verdict(&message(
                Some("local-part-only@localhost"),
                Some("a@b.example")
            ))
            .result,
            MessageIdDomain::Unknown
        );
    }
}
