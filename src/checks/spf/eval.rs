//! check_host() (RFC 7208 §4): fetch the domain's record, walk its
//! mechanisms left to right until one matches, else follow `redirect=`,
//! else neutral; fetch the `exp=` explanation for a fail.

use super::lookup::{Found, Lookups, MX_NAME_LIMIT, dns_name};
use super::macros::{MacroValues, expand_domain, expand_explanation, uses_validated_name};
pub use super::problem::Problem;
use super::record::{self, DualCidr, Mechanism, Qualifier, Record, SyntaxError};
use crate::dns::Dns;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

/// Characters of an `exp=` explanation kept for the report.
const EXPLANATION_LIMIT: usize = 1000;

/// What stops an evaluation before a result: permerror or temperror.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    Permerror(Problem),
    /// What did not answer.
    Temperror(String),
}

impl From<Problem> for Stop {
    fn from(problem: Problem) -> Self {
        Stop::Permerror(problem)
    }
}

/// The results check_host() reaches by walking a record (§2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// No SPF record at the domain (§4.5), or not a domain (§4.3).
    None,
    Neutral,
    Pass,
    Fail,
    Softfail,
}

impl From<Qualifier> for Decision {
    fn from(q: Qualifier) -> Self {
        match q {
            Qualifier::Pass => Decision::Pass,
            Qualifier::Fail => Decision::Fail,
            Qualifier::Softfail => Decision::Softfail,
            Qualifier::Neutral => Decision::Neutral,
        }
    }
}

/// One check_host() outcome, with what the report shows about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided {
    pub decision: Decision,
    /// The term that decided ("ip4:192.0.2.0/24", "include:_spf.example",
    /// "redirect=x.example → -all"), or "default neutral".
    pub matched: Option<String>,
    /// For a fail: the record's `exp=` domain-spec and the domain it is
    /// expanded for (§6.2). Includes never pass theirs up; a redirect
    /// passes the target's, not its own.
    exp: Option<(String, String)>,
}

/// The identity and connection an evaluation is for.
pub struct Identity<'a> {
    /// `local-part@domain` checked (`postmaster@HELO` for HELO).
    pub sender: &'a str,
    pub local_part: &'a str,
    pub sender_domain: &'a str,
    pub ip: IpAddr,
    pub helo: &'a str,
    /// Our host name, `%{r}`.
    pub receiver: &'a str,
}

/// One evaluation: check_host() and everything it recurses into share the
/// lookup counts (§4.6.4 limits the whole evaluation, not one record).
pub struct Evaluation<'a> {
    pub lookups: Lookups<'a>,
    identity: Identity<'a>,
    /// The `v=spf1` records found at the first domain, for the report.
    pub records: Vec<String>,
    /// The client's validated PTR names, looked up at the first `%{p}`
    /// and kept: a record full of `%{p}` costs the lookups once.
    validated_names: tokio::sync::OnceCell<Vec<String>>,
}

/// Whether a mechanism matched.
type Matched = Result<bool, Stop>;

impl<'a> Evaluation<'a> {
    pub fn new(dns: &'a Dns, identity: Identity<'a>) -> Self {
        Evaluation {
            lookups: Lookups::new(dns),
            identity,
            records: Vec::new(),
            validated_names: tokio::sync::OnceCell::new(),
        }
    }

    /// check_host(<ip>, <domain>, <sender>) for the identity's domain.
    pub async fn check_host(&mut self, domain: &str) -> Result<Decided, Stop> {
        self.check_domain(domain.to_owned(), 0).await
    }

    /// The explanation for a fail (§6.2), or None when there is no `exp=`
    /// or it leads nowhere usable: a DNS error, not exactly one TXT record,
    /// non-ASCII or bad macro syntax all mean "as if no exp was given".
    /// Looked up once, after the result, and never counted as a void
    /// lookup (the suite's exp-void case).
    pub async fn explanation(&self, decided: &Decided) -> Option<String> {
        let (spec, domain) = decided.exp.as_ref()?;
        let validated = self.validated_name_if_used(spec, domain).await;
        let values = self.values(domain, validated.as_deref());
        let name = dns_name(&expand_domain(spec, &values).ok()?)?;
        let Found::Records(texts) = self.lookups.txt(&name).await else {
            return None;
        };
        let [text] = texts.as_slice() else {
            return None;
        };
        if !text.is_ascii() || text.len() > EXPLANATION_LIMIT {
            return None;
        }
        // The text may use %{p} where the exp= domain-spec did not.
        let validated = self.validated_name_if_used(text, domain).await;
        let expanded = expand_explanation(text, &self.values(domain, validated.as_deref())).ok()?;
        // The sender's DNS writes it, and macros multiply it: a long text
        // is refused above, and what its macros make is cut here.
        Some(match expanded.char_indices().nth(EXPLANATION_LIMIT) {
            Some((cut, _)) => format!("{}…", &expanded[..cut]),
            None => expanded,
        })
    }

    /// check_host() proper; boxed because include and redirect recurse.
    fn check_domain(
        &mut self,
        domain: String,
        depth: usize,
    ) -> Pin<Box<dyn Future<Output = Result<Decided, Stop>> + Send + '_>> {
        Box::pin(async move {
            let Some(record) = self.record(&domain, depth).await? else {
                return Ok(Decided {
                    decision: Decision::None,
                    matched: None,
                    exp: None,
                });
            };
            for directive in &record.directives {
                if directive.mechanism.queries_dns() {
                    self.lookups.count_term()?;
                }
                if self.matches(&directive.mechanism, &domain, depth).await? {
                    let decision = Decision::from(directive.qualifier);
                    let exp = match decision {
                        Decision::Fail => record
                            .exp
                            .as_ref()
                            .map(|e| (e.domain_spec.clone(), domain.clone())),
                        _ => None,
                    };
                    return Ok(Decided {
                        decision,
                        matched: Some(directive.text.clone()),
                        exp,
                    });
                }
            }
            // §6.1: redirect applies only when no mechanism matched; the
            // target's result, explanation included, is the result.
            if let Some(redirect) = &record.redirect {
                self.lookups.count_term()?;
                let target = self.expand(&redirect.domain_spec, &domain).await?;
                let decided = self.check_domain(target.clone(), depth + 1).await?;
                if decided.decision == Decision::None {
                    return Err(Problem::RedirectNone { domain: target }.into());
                }
                return Ok(Decided {
                    matched: Some(match decided.matched {
                        Some(m) => format!("{} → {m}", redirect.text),
                        None => redirect.text.clone(),
                    }),
                    ..decided
                });
            }
            // §4.7: no match and no redirect is neutral.
            Ok(Decided {
                decision: Decision::Neutral,
                matched: Some("default neutral".into()),
                exp: None,
            })
        })
    }

    /// The one SPF record at `domain` (§4.4, §4.5), parsed; None for none.
    async fn record(&mut self, domain: &str, depth: usize) -> Result<Option<Record>, Stop> {
        let Some(name) = dns_name(domain) else {
            return Ok(None); // §4.3: malformed domain
        };
        let texts = match self.lookups.txt(&name).await {
            Found::Records(texts) => texts,
            Found::Nothing => return Ok(None),
            Found::Failed(why) => return Err(Stop::Temperror(why)),
        };
        let spf: Vec<String> = texts
            .into_iter()
            .filter(|t| record::is_spf_record(t))
            .collect();
        if depth == 0 {
            self.records = spf.clone();
        }
        match spf.as_slice() {
            [] => Ok(None),
            [text] => record::parse(text).map(Some).map_err(|error| {
                Stop::Permerror(Problem::Syntax {
                    domain: domain.to_owned(),
                    error,
                })
            }),
            more => Err(Problem::MultipleRecords {
                domain: domain.to_owned(),
                count: more.len(),
            }
            .into()),
        }
    }

    /// Whether one mechanism matches the client (§5).
    async fn matches(&mut self, mechanism: &Mechanism, domain: &str, depth: usize) -> Matched {
        let ip = self.identity.ip;
        match mechanism {
            Mechanism::All => Ok(true),
            Mechanism::Include(spec) => self.include(spec, domain, depth).await,
            Mechanism::A { domain_spec, cidr } => {
                let target = self.target(domain_spec.as_deref(), domain).await?;
                self.a(&target, *cidr).await
            }
            Mechanism::Mx { domain_spec, cidr } => {
                let target = self.target(domain_spec.as_deref(), domain).await?;
                self.mx(&target, *cidr).await
            }
            Mechanism::Ptr(domain_spec) => {
                let target = self.target(domain_spec.as_deref(), domain).await?;
                self.ptr(&target).await
            }
            // §5.6: an ip4 never matches an IPv6 client, nor ip6 an IPv4 one
            // (IPv4-mapped clients were made IPv4 before).
            Mechanism::Ip4(network, len) => Ok(in_network(ip, IpAddr::V4(*network), *len)),
            Mechanism::Ip6(network, len) => Ok(in_network(ip, IpAddr::V6(*network), *len)),
            Mechanism::Exists(spec) => {
                let target = self.expand(spec, domain).await?;
                self.exists(&target).await
            }
        }
    }

    /// §5.2: include matches when the included domain passes; fail,
    /// softfail and neutral do not match; none is a permerror; errors
    /// propagate.
    async fn include(&mut self, spec: &str, domain: &str, depth: usize) -> Matched {
        let target = self.expand(spec, domain).await?;
        let decided = self.check_domain(target.clone(), depth + 1).await?;
        match decided.decision {
            Decision::Pass => Ok(true),
            Decision::None => Err(Problem::IncludeNone { domain: target }.into()),
            _ => Ok(false),
        }
    }

    /// §5.3: an address of the target, of the client's family, within the
    /// prefix length.
    async fn a(&mut self, target: &str, cidr: DualCidr) -> Matched {
        let Some(name) = dns_name(target) else {
            return Ok(false);
        };
        let ip = self.identity.ip;
        match self.lookups.addresses(&name, ip.is_ipv6()).await {
            Found::Records(addresses) => Ok(addresses.iter().any(|&a| in_cidr(ip, a, cidr))),
            Found::Nothing => {
                self.lookups.count_void()?;
                Ok(false)
            }
            Found::Failed(why) => Err(Stop::Temperror(why)),
        }
    }

    /// §5.4: the `a` test on each MX host of the target; more than 10 MX
    /// records is a permerror (§4.6.4).
    async fn mx(&mut self, target: &str, cidr: DualCidr) -> Matched {
        let Some(name) = dns_name(target) else {
            return Ok(false);
        };
        let hosts = match self.lookups.mx(&name).await {
            Found::Records(hosts) => hosts,
            Found::Nothing => {
                self.lookups.count_void()?;
                return Ok(false);
            }
            Found::Failed(why) => return Err(Stop::Temperror(why)),
        };
        if hosts.len() > MX_NAME_LIMIT {
            return Err(Problem::MxLimit {
                domain: target.to_owned(),
                count: hosts.len(),
            }
            .into());
        }
        let ip = self.identity.ip;
        for host in hosts {
            let Some(host) = dns_name(&host) else {
                continue; // the null MX "."
            };
            match self.lookups.addresses(&host, ip.is_ipv6()).await {
                Found::Records(addresses) if addresses.iter().any(|&a| in_cidr(ip, a, cidr)) => {
                    return Ok(true);
                }
                Found::Failed(why) => return Err(Stop::Temperror(why)),
                _ => {}
            }
        }
        Ok(false)
    }

    /// §5.5: a validated PTR name of the client that is the target or ends
    /// in it. DNS errors on the PTR lookup make no match, not temperror.
    async fn ptr(&mut self, target: &str) -> Matched {
        let ip = self.identity.ip;
        let names = match self.lookups.ptr(ip).await {
            Found::Records(names) => names,
            Found::Nothing => {
                self.lookups.count_void()?;
                return Ok(false);
            }
            Found::Failed(_) => return Ok(false),
        };
        let validated = self
            .lookups
            .validated_names(ip, &names, |name| is_within(name, target))
            .await;
        Ok(!validated.is_empty())
    }

    /// §5.7: the target has an A record, whatever the client's family.
    async fn exists(&mut self, target: &str) -> Matched {
        let Some(name) = dns_name(target) else {
            return Ok(false);
        };
        match self.lookups.addresses(&name, false).await {
            Found::Records(_) => Ok(true),
            Found::Nothing => {
                self.lookups.count_void()?;
                Ok(false)
            }
            Found::Failed(why) => Err(Stop::Temperror(why)),
        }
    }

    /// A mechanism's target: its expanded domain-spec, or the current
    /// domain when it has none (§4.8).
    async fn target(&self, spec: Option<&str>, domain: &str) -> Result<String, Stop> {
        match spec {
            Some(spec) => self.expand(spec, domain).await,
            None => Ok(domain.to_owned()),
        }
    }

    /// Expands a domain-spec for the record at `domain` (§7).
    async fn expand(&self, spec: &str, domain: &str) -> Result<String, Stop> {
        let validated = self.validated_name_if_used(spec, domain).await;
        expand_domain(spec, &self.values(domain, validated.as_deref())).map_err(|e| {
            // The parser checked every macro already; kept total anyway.
            Stop::Permerror(Problem::Syntax {
                domain: domain.to_owned(),
                error: SyntaxError {
                    position: 0,
                    term: spec.to_owned(),
                    what: e.what,
                    why: e.why,
                },
            })
        })
    }

    /// `%{p}` (§7.3): a validated name of the client, preferring the
    /// domain itself or one of its subdomains; looked up only when used.
    async fn validated_name_if_used(&self, spec: &str, domain: &str) -> Option<String> {
        if !uses_validated_name(spec) {
            return None;
        }
        let ip = self.identity.ip;
        let validated = self
            .validated_names
            .get_or_init(|| async {
                match self.lookups.ptr(ip).await {
                    Found::Records(names) => {
                        self.lookups.validated_names(ip, &names, |_| true).await
                    }
                    _ => Vec::new(),
                }
            })
            .await;
        validated
            .iter()
            .find(|name| is_within(name, domain))
            .or(validated.first())
            .cloned()
    }

    fn values<'v>(&'v self, domain: &'v str, validated: Option<&'v str>) -> MacroValues<'v> {
        let id = &self.identity;
        MacroValues {
            sender: id.sender,
            local_part: id.local_part,
            sender_domain: id.sender_domain,
            domain,
            ip: id.ip,
            helo: id.helo,
            receiver: id.receiver,
            validated_name: validated,
        }
    }
}

/// `name` is `domain` or a subdomain of it, ignoring case and final dots.
fn is_within(name: &str, domain: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    name == domain || name.ends_with(&format!(".{domain}"))
}

/// `ip` within `network`/`len` of the same family (§5.6).
fn in_network(ip: IpAddr, network: IpAddr, len: u8) -> bool {
    match (ip, network) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

/// An address found for `a`/`mx` against the client, with the prefix
/// length of the client's family (§5.6 dual-cidr-length).
fn in_cidr(ip: IpAddr, found: IpAddr, cidr: DualCidr) -> bool {
    let len = if ip.is_ipv6() { cidr.v6 } else { cidr.v4 };
    in_network(ip, found, len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(in_network(ip("192.0.2.7"), ip("192.0.2.0"), 24));
        assert!(!in_network(ip("192.0.3.7"), ip("192.0.2.0"), 24));
        assert!(in_network(ip("203.0.113.9"), ip("0.0.0.0"), 0));
        assert!(in_network(ip("2001:db8::1"), ip("::"), 0));
        // ip6:::/0 does not match IPv4 clients, nor ip4:0.0.0.0/0 IPv6 ones.
        assert!(!in_network(ip("192.0.2.7"), ip("::"), 0));
        assert!(!in_network(ip("2001:db8::1"), ip("0.0.0.0"), 0));
        assert!(in_network(ip("cafe:babe:8000::"), ip("cafe:babe::"), 32));
        assert!(!in_network(ip("cafe:babe:8000::"), ip("cafe:babe::"), 33));
        assert!(is_within("Mail.Example.com.", "example.COM"));
        assert!(!is_within("badexample.com", "example.com"));
    }

    #[test]
    fn problems_read_as_the_sender_needs_them() {
        assert_eq!(
            Problem::LookupLimit { count: 11 }
                .to_string()
                .split(':')
                .next(),
            Some("11 DNS lookups, limit 10")
        );
        assert_eq!(
            Problem::VoidLimit { count: 3 }
                .to_string()
                .split(':')
                .next(),
            Some("3 void lookups, limit 2")
        );
    }
}
