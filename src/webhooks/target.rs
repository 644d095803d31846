//! Where a webhook may point. Checked when a client names it (syntax, and
//! an address given literally) and again at each delivery (the addresses
//! a name resolves to then, which the request is pinned to), so neither a
//! literal nor a DNS answer can aim our requests into a private network.

use crate::checks::mail_server::targets::refusal;
use std::net::IpAddr;

/// The longest URL taken.
pub const MAX_URL: usize = 2048;

/// `url` if a webhook may point there, else why not.
pub fn check(url: &str, allow_private: bool) -> Result<reqwest::Url, String> {
    if url.len() > MAX_URL {
        return Err(format!("webhook: at most {MAX_URL} characters"));
    }
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("webhook: not a URL ({e})"))?;
    match parsed.scheme() {
        "https" => {}
        "http" if allow_private => {}
        _ => return Err("webhook: want an https:// URL".into()),
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("webhook: no user name or password in the URL".into());
    }
    let host = parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or("webhook: the URL has no host")?;
    if let Some(ip) = literal(host) {
        address_allowed(ip, allow_private)?;
    }
    Ok(parsed)
}

/// The address a URL's host gives literally (`[::1]` with its brackets).
pub fn literal(host: &str) -> Option<IpAddr> {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// Whether a request may go to `ip`.
pub fn address_allowed(ip: IpAddr, allow_private: bool) -> Result<(), String> {
    match refusal(ip) {
        Some(why) if !allow_private => Err(format!("webhook: {ip} is {why}: refused")),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_loopback_and_plain_http_are_refused_unless_allowed() {
        assert!(check("https://hooks.example.com/mailscore", false).is_ok());
        for bad in [
            "https://127.0.0.1/hook",
            "https://10.1.2.3/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/hook",
            "https://[fe80::1]/hook",
            "http://hooks.example.com/hook",
            "ftp://hooks.example.com/",
            "https://user:pw@hooks.example.com/",
            "not a url",
        ] {
            assert!(check(bad, false).is_err(), "{bad}");
        }
        assert!(check("http://127.0.0.1:8000/hook", true).is_ok());
    }
}
