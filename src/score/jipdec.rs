//! The grid the Japanese anti-spoofing surveys print per sending address
//! (JIPDEC, the Council of Anti-Phishing Japan): S/MIME, SPF, DKIM and
//! DMARC, each set up (設定あり), not set up (設定なし) or set up wrongly
//! (設定誤り), in one row.

use crate::checks::dkim::DkimFinding;
use crate::checks::smime::SmimeResult;
use crate::checks::{Findings, Setup, Verdict};
use serde::{Deserialize, Serialize};

/// One sender's row of the survey tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct SetupGrid {
    pub smime: Setup,
    pub spf: Setup,
    pub dkim: Setup,
    pub dmarc: Setup,
}

impl Default for SetupGrid {
    /// Reports stored before the grid existed.
    fn default() -> SetupGrid {
        SetupGrid {
            smime: Setup::Unknown,
            spf: Setup::Unknown,
            dkim: Setup::Unknown,
            dmarc: Setup::Unknown,
        }
    }
}

pub fn grid(findings: &Findings) -> SetupGrid {
    SetupGrid {
        smime: match findings.smime.result {
            SmimeResult::None => Setup::Missing,
            SmimeResult::Trusted | SmimeResult::Untrusted | SmimeResult::Encrypted => {
                Setup::Configured
            }
            SmimeResult::Expired | SmimeResult::Mismatch | SmimeResult::Invalid => {
                Setup::Misconfigured
            }
            SmimeResult::Unknown => Setup::Unknown,
        },
        spf: findings.spf.setup,
        dkim: dkim(&findings.dkim),
        dmarc: findings.dmarc.setup,
    }
}

/// Signed and verified is set up; signed and never verified (a wrong key,
/// a broken signature) is set up wrongly; a DNS timeout is unknown.
fn dkim(signatures: &[DkimFinding]) -> Setup {
    if signatures.is_empty() {
        Setup::Missing
    } else if signatures.iter().any(|s| s.result == Verdict::Pass) {
        Setup::Configured
    } else if signatures.iter().all(|s| s.result == Verdict::Temperror) {
        Setup::Unknown
    } else {
        Setup::Misconfigured
    }
}
