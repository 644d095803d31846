//! What EHLO offers, and the rule that goes with it: a parameter of an
//! extension we do not offer is refused (`555 5.5.4`, RFC 5321 §4.1.1.11),
//! not silently accepted. Offered: SIZE (RFC 1870), 8BITMIME (RFC 6152)
//! and SMTPUTF8 (RFC 6531); PIPELINING, CHUNKING (RFC 3030, BDAT),
//! ENHANCEDSTATUSCODES and STARTTLS take no parameters. Not offered: DSN (RET, ENVID, NOTIFY, ORCPT: we
//! never send a DSN), BINARYMIME, REQUIRETLS, DELIVERBY, AUTH and the rest.

use smtp_proto::{MAIL_BODY_7BIT, MAIL_BODY_8BITMIME, MAIL_SMTPUTF8, MailFrom, RcptTo};

/// The extension lines of our EHLO reply after the greeting line, but
/// STARTTLS (offered only on a plaintext connection) and the last line.
pub const EHLO_EXTENSIONS: [&str; 5] = ["PIPELINING", "SIZE", "8BITMIME", "SMTPUTF8", "CHUNKING"];

/// The MAIL parameters of the extensions we offer (SIZE is its own field).
const OFFERED_MAIL_FLAGS: u64 = MAIL_BODY_7BIT | MAIL_BODY_8BITMIME | MAIL_SMTPUTF8;

/// `MAIL FROM` carries a parameter of an extension we did not offer.
pub fn unoffered_mail_parameter(from: &MailFrom<String>) -> bool {
    from.flags & !OFFERED_MAIL_FLAGS != 0
        || from.env_id.is_some()
        || from.trans_id.is_some()
        || from.solicit.is_some()
        || from.mtrk.is_some()
        || from.auth.is_some()
        || from.by != 0
        || from.hold_for != 0
        || from.hold_until != 0
        || from.mt_priority != 0
}

/// `RCPT TO` carries a parameter: we offer none for RCPT (NOTIFY and
/// ORCPT are DSN's, RRVS and CONNEG their own extensions).
pub fn unoffered_rcpt_parameter(to: &RcptTo<String>) -> bool {
    to.flags != 0 || to.orcpt.is_some() || to.rrvs != 0
}

/// `MAIL FROM` said SMTPUTF8: its addresses may be UTF-8 (RFC 6531 §3.4).
pub fn smtputf8(from: &MailFrom<String>) -> bool {
    from.flags & MAIL_SMTPUTF8 != 0
}

/// RFC 6531 §3.5: a non-ASCII address in a transaction that did not ask
/// for SMTPUTF8 is refused, so the client can downgrade or bounce.
pub const NEEDS_SMTPUTF8: &str = "553 5.6.7 Non-ASCII address needs MAIL FROM with SMTPUTF8";

/// `<postmaster>` or `postmaster@<our domain>`, in any case (RFC 5321
/// §4.5.1: a receiving host must accept it).
pub fn is_postmaster(address: &str, domain: &str) -> bool {
    match address.rsplit_once('@') {
        Some((local, at)) => {
            local.eq_ignore_ascii_case("postmaster") && at.eq_ignore_ascii_case(domain)
        }
        None => address.eq_ignore_ascii_case("postmaster"),
    }
}

/// `RCPT TO:<postmaster>` as sent: smtp-proto reads the bare postmaster
/// as the empty address, like `<>`, so the line tells them apart.
pub fn is_bare_postmaster_rcpt(line: &[u8]) -> bool {
    let line = String::from_utf8_lossy(line).to_ascii_lowercase();
    line.trim()
        .strip_prefix("rcpt to:")
        .is_some_and(|rest| rest.trim_start().starts_with("<postmaster>"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postmaster_with_or_without_our_domain() {
        assert!(is_postmaster("postmaster", "test.example"));
        assert!(is_postmaster("PostMaster@Test.Example", "test.example"));
        assert!(!is_postmaster(
            "postmaster@elsewhere.example",
            "test.example"
        ));
        assert!(!is_postmaster("postmasterx@test.example", "test.example"));
        assert!(is_bare_postmaster_rcpt(b"RCPT TO: <PostMaster>\r\n"));
        assert!(!is_bare_postmaster_rcpt(b"MAIL FROM:<postmaster>\r\n"));
        assert!(!is_bare_postmaster_rcpt(
            b"RCPT TO:<postmaster@x.example>\r\n"
        ));
    }
}
