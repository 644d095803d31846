//! Helpers shared by the integration tests; a test binary brings them in
//! with `mod support;`.

pub mod dkim;
pub mod dns;
pub mod pipeline;
pub mod server;
pub mod tls;
pub mod zones;
