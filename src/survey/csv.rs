//! The survey's rows as CSV (RFC 4180): one line per sender, for a
//! spreadsheet. Every value is quoted when it holds a comma, a quote or a
//! line break, and a leading `=`, `+`, `-` or `@` is prefixed with `'` so a
//! From address cannot become a spreadsheet formula.

use super::sender::SenderRow;

const HEADER: &str =
    "from,label,messages,first_seen,last_seen,smime,spf,dkim,dmarc,score,grade,changed\r\n";

pub fn rows(rows: &[SenderRow]) -> String {
    let mut out = String::from(HEADER);
    for r in rows {
        let fields = [
            field(&r.from),
            field(&r.label),
            r.messages.to_string(),
            field(&r.first_seen),
            field(&r.last_seen),
            r.smime.as_str().into(),
            r.spf.as_str().into(),
            r.dkim.as_str().into(),
            r.dmarc.as_str().into(),
            format!("{:.1}", r.score),
            field(&r.grade),
            r.changed.to_string(),
        ];
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    out
}

fn field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if value.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_quoted_and_formulas_defused() {
        assert_eq!(field("a@b.jp"), "a@b.jp");
        assert_eq!(field("\"x\",y"), "\"\"\"x\"\",y\"");
        assert_eq!(field("=cmd()"), "'=cmd()");
        assert_eq!(field("@SUM(A1)"), "'@SUM(A1)");
    }
}
