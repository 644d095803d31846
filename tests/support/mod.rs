//! Helpers shared by the integration tests; a test binary brings them in
//! with `mod support;`.

pub mod corpus;
pub mod dkim;
pub mod dns;
pub mod mx;
pub mod pipeline;
pub mod postfix;
pub mod redis;
pub mod rspamd;
pub mod server;
pub mod signed_root;
pub mod smtp_reply;
pub mod spamd;
pub mod store_files;
pub mod study;
pub mod survey;
pub mod tls;
pub mod zones;
