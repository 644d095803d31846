//! API keys (`--api-keys FILE`): who may create tests and surveys, read
//! surveys, and with `--private-reports` read reports. Without the file
//! every request passes, as before there were keys.
//!
//! The file holds no secret: each key is named and given by the SHA-256 of
//! its secret string, so a leaked file (or a backup of it) lets nobody in.
//!
//! ```toml
//! [[key]]
//! name = "ci"
//! sha256 = "<64 hex digits: printf %s "$KEY" | sha256sum>"
//! scopes = ["create", "read"]
//! ```
//!
//! A request presents `Authorization: Bearer <key>`. Its SHA-256 is
//! compared with every configured hash in constant time, all of them every
//! time, so the answer's timing tells nothing about which hash (or which
//! bytes of one) came close.

use super::api::error;
use ring::digest::{SHA256, digest};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use subtle::ConstantTimeEq;
use warp::http::StatusCode;
use warp::http::header::{HeaderValue, WWW_AUTHENTICATE};
use warp::reply::Response;
use warp::{Filter, Rejection};

/// What a key may do. `admin` may do everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `POST /api/tests`.
    Create,
    /// The report endpoints, when reports are private.
    Read,
    /// `POST /api/surveys` and reading surveys.
    Survey,
    /// Every scope.
    Admin,
}

impl Scope {
    const ALL: [Scope; 4] = [Scope::Create, Scope::Read, Scope::Survey, Scope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Create => "create",
            Scope::Read => "read",
            Scope::Survey => "survey",
            Scope::Admin => "admin",
        }
    }

    fn parse(text: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|scope| scope.as_str() == text)
    }
}

/// One configured key: its name and the SHA-256 of its secret.
#[derive(Debug)]
struct ApiKey {
    name: Arc<str>,
    sha256: [u8; 32],
    scopes: Vec<Scope>,
}

impl ApiKey {
    fn allows(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope) || self.scopes.contains(&Scope::Admin)
    }
}

/// The keys the server takes; none means the API is open.
#[derive(Debug, Default)]
pub struct ApiKeys {
    keys: Vec<ApiKey>,
}

/// Who a request comes from, as far as the keys tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// No keys are configured: nobody is asked.
    Anyone,
    /// The request presented this key (its name).
    Key(Arc<str>),
}

/// Why a request was refused; the API's recover turns it into a 401 or 403.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// No `Authorization: Bearer` header.
    Missing,
    /// A bearer key that is not configured.
    Unknown,
    /// A known key without the scope.
    Forbidden(Scope),
}

impl warp::reject::Reject for Refused {}

#[derive(Debug, thiserror::Error)]
pub enum ApiKeysError {
    #[error("cannot read API keys file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("API keys file {}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

/// The file as written: `[[key]]` tables.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysFile {
    #[serde(default)]
    key: Vec<KeyEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    name: String,
    sha256: String,
    scopes: Vec<String>,
}

impl ApiKeys {
    /// No keys: every request passes.
    pub fn none() -> ApiKeys {
        ApiKeys::default()
    }

    /// The keys in the file at `path`, checked; none without a path.
    pub fn load(path: Option<&Path>) -> Result<ApiKeys, ApiKeysError> {
        let Some(path) = path else {
            return Ok(ApiKeys::none());
        };
        let text = std::fs::read_to_string(path).map_err(|source| ApiKeysError::Read {
            path: path.into(),
            source,
        })?;
        ApiKeys::parse(&text).map_err(|message| ApiKeysError::Invalid {
            path: path.into(),
            message,
        })
    }

    /// The keys in a file's `text`, or what is wrong with it.
    pub fn parse(text: &str) -> Result<ApiKeys, String> {
        let file: KeysFile = toml::from_str(text).map_err(|e| e.to_string())?;
        if file.key.is_empty() {
            // An empty file would lock every guarded endpoint for good:
            // more likely a mistake than a wish.
            return Err("no [[key]] in it".into());
        }
        let mut keys: Vec<ApiKey> = Vec::new();
        for entry in file.key {
            let key = entry.checked()?;
            if let Some(same) = keys.iter().find(|k| k.name == key.name) {
                return Err(format!("key {:?} is named twice", same.name));
            }
            if let Some(same) = keys.iter().find(|k| k.sha256 == key.sha256) {
                return Err(format!(
                    "keys {:?} and {:?} have the same sha256",
                    same.name, key.name
                ));
            }
            keys.push(key);
        }
        Ok(ApiKeys { keys })
    }

    /// How many keys there are (0: the API is open).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether a request with this `Authorization` header may do what
    /// `scope` covers, and who it is.
    pub fn admit(&self, authorization: Option<&[u8]>, scope: Scope) -> Result<Caller, Refused> {
        if self.keys.is_empty() {
            return Ok(Caller::Anyone);
        }
        let presented = authorization.and_then(bearer).ok_or(Refused::Missing)?;
        let key = self.find(presented).ok_or(Refused::Unknown)?;
        if !key.allows(scope) {
            return Err(Refused::Forbidden(scope));
        }
        Ok(Caller::Key(key.name.clone()))
    }

    /// The key whose hash is `presented`'s. Every hash is compared, in
    /// constant time, whichever matches.
    fn find(&self, presented: &[u8]) -> Option<&ApiKey> {
        let hash = digest(&SHA256, presented);
        let mut found = None;
        for key in &self.keys {
            if bool::from(key.sha256.ct_eq(hash.as_ref())) {
                found = Some(key);
            }
        }
        found
    }
}

impl KeyEntry {
    /// The key this entry describes, or what is wrong with it.
    fn checked(self) -> Result<ApiKey, String> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().any(char::is_control) {
            return Err(format!("key name {:?}: want a non-empty name", self.name));
        }
        // The value is never quoted back: a secret pasted here by mistake
        // must not end up in the logs.
        let sha256 = decode_sha256(self.sha256.trim()).ok_or_else(|| {
            format!(
                "key {name:?}: sha256 must be 64 hex digits (the SHA-256 of the key), \
                 not {} characters",
                self.sha256.trim().chars().count()
            )
        })?;
        if self.scopes.is_empty() {
            return Err(format!(
                "key {name:?}: no scopes (create, read, survey, admin)"
            ));
        }
        let scopes = self
            .scopes
            .iter()
            .map(|text| {
                Scope::parse(text).ok_or_else(|| {
                    format!("key {name:?}: unknown scope {text:?} (create, read, survey, admin)")
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(ApiKey {
            name: name.into(),
            sha256,
            scopes,
        })
    }
}

/// 64 hex digits (either case) as 32 bytes.
fn decode_sha256(text: &str) -> Option<[u8; 32]> {
    let digits = text.as_bytes();
    if digits.len() != 64 {
        return None;
    }
    let mut bytes = [0u8; 32];
    for (byte, pair) in bytes.iter_mut().zip(digits.chunks(2)) {
        let pair = std::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(bytes)
}

/// The key in `Bearer <key>` (the scheme in any case, RFC 7235 §2.1).
fn bearer(header: &[u8]) -> Option<&[u8]> {
    let (scheme, rest) = header.split_at_checked(6)?;
    if !scheme.eq_ignore_ascii_case(b"bearer") || !rest.first()?.is_ascii_whitespace() {
        return None;
    }
    Some(rest.trim_ascii()).filter(|key| !key.is_empty())
}

/// A filter that passes, with the caller, when the request may do what
/// `scope` covers, and rejects with [`Refused`] when it may not. With no
/// keys configured it always passes.
pub fn require(
    keys: Arc<ApiKeys>,
    scope: Scope,
) -> impl Filter<Extract = (Caller,), Error = Rejection> + Clone + Send + Sync + 'static {
    // Read as bytes: a header that is not text is an unknown key, not a 400.
    let authorization = warp::header::value("authorization")
        .map(Some)
        .or(warp::any().map(|| None))
        .unify();
    authorization.and_then(move |header: Option<HeaderValue>| {
        let decision = keys.admit(header.as_ref().map(HeaderValue::as_bytes), scope);
        async move { decision.map_err(warp::reject::custom) }
    })
}

/// [`require`], for a route that does not care who is calling.
pub fn guard(
    keys: Arc<ApiKeys>,
    scope: Scope,
) -> impl Filter<Extract = (), Error = Rejection> + Clone + Send + Sync + 'static {
    require(keys, scope).map(|_| ()).untuple_one()
}

impl Refused {
    /// The answer: 401 with a `WWW-Authenticate` challenge (RFC 6750 §3)
    /// for no key or an unknown one, 403 for a key without the scope.
    pub fn response(self) -> Response {
        let (status, message, challenge) = match self {
            Refused::Missing => (
                StatusCode::UNAUTHORIZED,
                "an API key is needed: Authorization: Bearer <key>".to_string(),
                r#"Bearer realm="mailscore""#,
            ),
            Refused::Unknown => (
                StatusCode::UNAUTHORIZED,
                "unknown API key".to_string(),
                r#"Bearer realm="mailscore", error="invalid_token""#,
            ),
            Refused::Forbidden(scope) => (
                StatusCode::FORBIDDEN,
                format!("this API key lacks the {:?} scope", scope.as_str()),
                "",
            ),
        };
        let mut response = error(status, &message);
        if !challenge.is_empty() {
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SHA-256("abc"), the FIPS 180-2 test vector: computed elsewhere.
    const ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    /// SHA-256("") likewise.
    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn keys(text: &str) -> ApiKeys {
        ApiKeys::parse(text).unwrap()
    }

    fn refused(text: &str) -> String {
        ApiKeys::parse(text).unwrap_err()
    }

    fn entry(name: &str, sha256: &str, scopes: &str) -> String {
        format!("[[key]]\nname = \"{name}\"\nsha256 = \"{sha256}\"\nscopes = [{scopes}]\n")
    }

    #[test]
    fn a_key_is_found_by_its_hash_and_holds_its_scopes() {
        let keys = keys(&entry("ci", ABC, "\"create\", \"read\""));
        assert_eq!(keys.len(), 1);
        let ci = Caller::Key("ci".into());
        assert_eq!(
            keys.admit(Some(b"Bearer abc"), Scope::Create),
            Ok(ci.clone())
        );
        assert_eq!(keys.admit(Some(b"Bearer abc"), Scope::Read), Ok(ci));
        assert_eq!(
            keys.admit(Some(b"Bearer abc"), Scope::Survey),
            Err(Refused::Forbidden(Scope::Survey))
        );
        assert_eq!(
            keys.admit(Some(b"Bearer abd"), Scope::Create),
            Err(Refused::Unknown)
        );
        assert_eq!(keys.admit(None, Scope::Create), Err(Refused::Missing));
    }

    #[test]
    fn admin_holds_every_scope_and_uppercase_hex_is_fine() {
        let keys = keys(&entry("root", &ABC.to_ascii_uppercase(), "\"admin\""));
        for scope in Scope::ALL {
            assert!(keys.admit(Some(b"Bearer abc"), scope).is_ok(), "{scope:?}");
        }
    }

    #[test]
    fn without_keys_everyone_passes() {
        let open = ApiKeys::load(None).unwrap();
        assert!(open.is_empty());
        assert_eq!(open.admit(None, Scope::Admin), Ok(Caller::Anyone));
        assert_eq!(
            open.admit(Some(b"Bearer x"), Scope::Read),
            Ok(Caller::Anyone)
        );
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive_and_nothing_else_is_a_key() {
        assert_eq!(bearer(b"Bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer(b"bearer   abc  "), Some(&b"abc"[..]));
        assert_eq!(bearer(b"BEARER\tabc"), Some(&b"abc"[..]));
        assert_eq!(bearer(b"Bearer"), None);
        assert_eq!(bearer(b"Bearer "), None);
        assert_eq!(bearer(b"Bearerabc"), None);
        assert_eq!(bearer(b"Basic YWJjOg=="), None);
        assert_eq!(bearer(b"abc"), None);
        let keys = keys(&entry("ci", ABC, "\"create\""));
        assert_eq!(
            keys.admit(Some(b"Basic abc"), Scope::Create),
            Err(Refused::Missing)
        );
    }

    #[test]
    fn two_keys_are_told_apart() {
        let text = entry("ci", ABC, "\"create\"") + &entry("reader", EMPTY, "\"read\"");
        let keys = keys(&text);
        // "Bearer " alone is no key at all, so the empty key's hash can
        // never be presented: it stays unreachable, not a way in.
        assert_eq!(
            keys.admit(Some(b"Bearer "), Scope::Read),
            Err(Refused::Missing)
        );
        assert_eq!(
            keys.admit(Some(b"Bearer abc"), Scope::Create),
            Ok(Caller::Key("ci".into()))
        );
    }

    #[test]
    fn a_bad_file_is_refused_naming_the_problem() {
        let err = refused(&entry("ci", ABC, "\"create\", \"write\""));
        assert!(
            err.contains("\"ci\"") && err.contains("unknown scope \"write\""),
            "{err}"
        );
        let err = refused(&entry("ci", "abc123", "\"create\""));
        assert!(
            err.contains("64 hex digits") && err.contains("6 characters"),
            "{err}"
        );
        assert!(
            !err.contains("abc123"),
            "the value is not quoted back: {err}"
        );
        let not_hex = ABC.replace('a', "g");
        let err = refused(&entry("ci", &not_hex, "\"create\""));
        assert!(err.contains("64 hex digits"), "{err}");
        let err = refused(&(entry("ci", ABC, "\"create\"") + &entry("ci", EMPTY, "\"read\"")));
        assert!(err.contains("\"ci\" is named twice"), "{err}");
        let err = refused(&(entry("a", ABC, "\"create\"") + &entry("b", ABC, "\"read\"")));
        assert!(err.contains("same sha256"), "{err}");
        let err = refused(&entry("ci", ABC, ""));
        assert!(err.contains("no scopes"), "{err}");
        let err = refused(&entry(" ", ABC, "\"read\""));
        assert!(err.contains("non-empty name"), "{err}");
        assert!(refused("").contains("no [[key]]"));
        let err = refused(&entry("ci", ABC, "\"read\"").replace("scopes", "scope"));
        assert!(err.contains("scope"), "{err}");
    }

    #[test]
    fn a_missing_file_is_an_error_naming_it() {
        let path = Path::new("/nonexistent/mailscore-keys.toml");
        let err = ApiKeys::load(Some(path)).unwrap_err().to_string();
        assert!(err.contains("/nonexistent/mailscore-keys.toml"), "{err}");
    }

    #[test]
    fn refusals_are_401_with_a_challenge_or_403() {
        let missing = Refused::Missing.response();
        assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            missing.headers()[WWW_AUTHENTICATE],
            r#"Bearer realm="mailscore""#
        );
        let unknown = Refused::Unknown.response();
        assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
        assert!(unknown.headers().contains_key(WWW_AUTHENTICATE));
        let forbidden = Refused::Forbidden(Scope::Create).response();
        assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
        assert!(!forbidden.headers().contains_key(WWW_AUTHENTICATE));
    }
}
