//! The HAProxy PROXY protocol, versions 1 (text) and 2 (binary), as spoken
//! by a load balancer in front of the SMTP listener: before any SMTP, it
//! tells us whom it accepted the connection from, so SPF and iprev judge the
//! sender instead of the balancer.
//!
//! Only peers in `proxy_trusted` may send it, and those must: a header is
//! what makes their connections mean anything, and a balancer that stopped
//! sending it would otherwise make every message look as if it came from the
//! balancer. The listener reads the header before the greeting; a session
//! refuses one from anyone else (`looks_like_header`).
//!
//! Spec: <https://www.haproxy.org/download/2.6/doc/proxy-protocol.txt>.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use tokio::io::{AsyncRead, AsyncReadExt};

/// The first 12 bytes of every version 2 header.
pub(super) const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";

/// A version 1 header is at most this long, CRLF included (spec §2.1).
const V1_MAX_LEN: usize = 107;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProxyError {
    #[error("connection closed before the PROXY header ended")]
    Closed,
    #[error("no PROXY protocol header")]
    Missing,
    #[error("malformed PROXY v1 header: {0}")]
    BadV1(&'static str),
    #[error("malformed PROXY v2 header: {0}")]
    BadV2(&'static str),
}

/// Reads one PROXY header (v1 or v2) off `stream`, and not a byte more:
/// the SMTP that follows is the session's. Returns the client the balancer
/// speaks for, or None when the header says to use the connection's own
/// addresses (v2 `LOCAL`, e.g. the balancer's health checks; v1 `UNKNOWN`;
/// an address family other than IPv4/IPv6).
pub async fn read_header<S: AsyncRead + Unpin>(
    stream: &mut S,
) -> Result<Option<SocketAddr>, ProxyError> {
    let mut start = [0u8; 12];
    read_exact(stream, &mut start).await?;
    if start == V2_SIGNATURE {
        read_v2(stream).await
    } else if start.starts_with(b"PROXY ") {
        read_v1(stream, &start).await
    } else {
        Err(ProxyError::Missing)
    }
}

/// Whether the first bytes of a connection are a PROXY header: what a
/// session checks on connections from peers that are not trusted.
pub(super) fn looks_like_header(first: &[u8]) -> bool {
    first.starts_with(b"PROXY ") || first.starts_with(&V2_SIGNATURE)
}

async fn read_exact<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut [u8],
) -> Result<(), ProxyError> {
    stream
        .read_exact(buf)
        .await
        .map(|_| ())
        .map_err(|_| ProxyError::Closed)
}

/// The rest of `PROXY <TCP4|TCP6|UNKNOWN> src dst sport dport\r\n`, read a
/// byte at a time up to the CRLF so nothing after it is consumed.
async fn read_v1<S: AsyncRead + Unpin>(
    stream: &mut S,
    start: &[u8],
) -> Result<Option<SocketAddr>, ProxyError> {
    let mut line = start.to_vec();
    while !line.ends_with(b"\r\n") {
        if line.len() >= V1_MAX_LEN {
            return Err(ProxyError::BadV1("longer than 107 bytes"));
        }
        let mut byte = [0u8];
        read_exact(stream, &mut byte).await?;
        line.push(byte[0]);
    }
    parse_v1(&line[..line.len() - 2])
}

/// One v1 line without its CRLF.
fn parse_v1(line: &[u8]) -> Result<Option<SocketAddr>, ProxyError> {
    let line = std::str::from_utf8(line).map_err(|_| ProxyError::BadV1("not ASCII"))?;
    let mut fields = line.split(' ');
    let _proxy = fields.next();
    let family = fields.next().ok_or(ProxyError::BadV1("no protocol"))?;
    if family == "UNKNOWN" {
        // The rest is to be ignored (spec §2.1).
        return Ok(None);
    }
    let fields: Vec<&str> = fields.collect();
    let [source, destination, source_port, destination_port] = fields[..] else {
        return Err(ProxyError::BadV1("not four address fields"));
    };
    // The destination is checked for form only: it is us.
    let source: IpAddr = match family {
        "TCP4" => {
            parse_field::<Ipv4Addr>(destination)?;
            parse_field::<Ipv4Addr>(source)?.into()
        }
        "TCP6" => {
            parse_field::<Ipv6Addr>(destination)?;
            parse_field::<Ipv6Addr>(source)?.into()
        }
        _ => return Err(ProxyError::BadV1("protocol is not TCP4, TCP6 or UNKNOWN")),
    };
    parse_port(destination_port)?;
    Ok(Some(SocketAddr::new(source, parse_port(source_port)?)))
}

fn parse_field<T: std::str::FromStr>(text: &str) -> Result<T, ProxyError> {
    text.parse().map_err(|_| ProxyError::BadV1("bad address"))
}

/// A decimal port, 0 to 65535, without a sign or leading zeros.
fn parse_port(text: &str) -> Result<u16, ProxyError> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    match canonical {
        true => text
            .parse()
            .map_err(|_| ProxyError::BadV1("port over 65535")),
        false => Err(ProxyError::BadV1("bad port")),
    }
}

/// After the signature: version and command, family and transport, the
/// length of what follows, the addresses, and TLVs (skipped).
async fn read_v2<S: AsyncRead + Unpin>(stream: &mut S) -> Result<Option<SocketAddr>, ProxyError> {
    let mut head = [0u8; 4];
    read_exact(stream, &mut head).await?;
    let [version_command, family_transport, len_high, len_low] = head;
    let mut rest = vec![0u8; usize::from(u16::from_be_bytes([len_high, len_low]))];
    read_exact(stream, &mut rest).await?;
    parse_v2(version_command, family_transport, &rest)
}

fn parse_v2(
    version_command: u8,
    family_transport: u8,
    rest: &[u8],
) -> Result<Option<SocketAddr>, ProxyError> {
    if version_command >> 4 != 2 {
        return Err(ProxyError::BadV2("version is not 2"));
    }
    match version_command & 0x0f {
        // LOCAL: the balancer's own connection; addresses are ignored.
        0x0 => return Ok(None),
        0x1 => {}
        _ => return Err(ProxyError::BadV2("command is not LOCAL or PROXY")),
    }
    // 0x1: STREAM. 0x0: UNSPEC, whose addresses are ignored anyway.
    if !matches!(family_transport & 0x0f, 0x0 | 0x1) {
        return Err(ProxyError::BadV2("transport is not a stream"));
    }
    let source = match family_transport >> 4 {
        0x1 => {
            let addresses: &[u8; 12] = first(rest)?;
            let ip: [u8; 4] = addresses[..4].try_into().expect("4 bytes");
            let port = u16::from_be_bytes([addresses[8], addresses[9]]);
            SocketAddr::new(Ipv4Addr::from(ip).into(), port)
        }
        0x2 => {
            let addresses: &[u8; 36] = first(rest)?;
            let ip: [u8; 16] = addresses[..16].try_into().expect("16 bytes");
            let port = u16::from_be_bytes([addresses[32], addresses[33]]);
            SocketAddr::new(Ipv6Addr::from(ip).into(), port)
        }
        // UNSPEC or UNIX: nothing we can put in an envelope.
        0x0 | 0x3 => return Ok(None),
        _ => return Err(ProxyError::BadV2("unknown address family")),
    };
    Ok(Some(source))
}

/// The first `N` bytes of the address block, which may be longer (TLVs).
fn first<const N: usize>(rest: &[u8]) -> Result<&[u8; N], ProxyError> {
    rest.get(..N)
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or(ProxyError::BadV2("address block too short"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    /// The header read off `input`, and what is left for SMTP.
    async fn read(input: &[u8]) -> (Result<Option<SocketAddr>, ProxyError>, Vec<u8>) {
        let mut stream = input;
        let header = read_header(&mut stream).await;
        let mut left = Vec::new();
        stream.read_to_end(&mut left).await.unwrap();
        (header, left)
    }

    fn v2(command: u8, family: u8, addresses: &[u8]) -> Vec<u8> {
        let mut header = V2_SIGNATURE.to_vec();
        header.push(0x20 | command);
        header.push(family);
        header.extend((addresses.len() as u16).to_be_bytes());
        header.extend_from_slice(addresses);
        header
    }

    #[tokio::test]
    async fn v1_tcp4_gives_the_source_and_leaves_the_smtp() {
        let (header, left) =
            read(b"PROXY TCP4 192.0.2.25 198.51.100.1 40000 25\r\nEHLO x\r\n").await;
        assert_eq!(header, Ok(Some("192.0.2.25:40000".parse().unwrap())));
        assert_eq!(left, b"EHLO x\r\n");
    }

    #[tokio::test]
    async fn v1_tcp6_and_unknown() {
        let (header, _) = read(b"PROXY TCP6 2001:db8::25 2001:db8::1 1 25\r\n").await;
        assert_eq!(header, Ok(Some("[2001:db8::25]:1".parse().unwrap())));
        let (header, left) = read(b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\nQUIT\r\n").await;
        assert_eq!(header, Ok(None));
        assert_eq!(left, b"QUIT\r\n");
    }

    #[tokio::test]
    async fn malformed_v1_headers_are_errors() {
        let cases: [&[u8]; 7] = [
            b"PROXY TCP4 192.0.2.25 198.51.100.1 40000\r\n",
            b"PROXY TCP4 2001:db8::1 198.51.100.1 1 25\r\n",
            b"PROXY TCP4 192.0.2.25 198.51.100.1 65536 25\r\n",
            b"PROXY TCP4 192.0.2.25 198.51.100.1 025 25\r\n",
            b"PROXY UDP4 192.0.2.25 198.51.100.1 1 25\r\n",
            b"PROXY TCP4  192.0.2.25 198.51.100.1 1 25\r\n",
            b"PROXY TCP4 192.0.2.25 198.51.100.1 1 25\n\r\n",
        ];
        for case in cases {
            let (header, _) = read(case).await;
            assert!(
                matches!(header, Err(ProxyError::BadV1(_))),
                "{:?}: {header:?}",
                String::from_utf8_lossy(case)
            );
        }
        let endless = [b"PROXY TCP4 ".as_slice(), &[b'1'; 200]].concat();
        assert_eq!(
            read(&endless).await.0,
            Err(ProxyError::BadV1("longer than 107 bytes"))
        );
    }

    #[tokio::test]
    async fn plain_smtp_and_a_short_header_are_not_a_header() {
        assert_eq!(
            read(b"EHLO client.example\r\n").await.0,
            Err(ProxyError::Missing)
        );
        assert_eq!(read(b"PROXY TCP4 1").await.0, Err(ProxyError::Closed));
        assert_eq!(read(&V2_SIGNATURE[..8]).await.0, Err(ProxyError::Closed));
    }

    #[tokio::test]
    async fn v2_inet_and_inet6_with_tlvs_give_the_source() {
        let mut addresses = vec![192, 0, 2, 25, 198, 51, 100, 1];
        addresses.extend(40000u16.to_be_bytes());
        addresses.extend(25u16.to_be_bytes());
        // A TLV (PP2_TYPE_NOOP, 3 bytes) rides along and is skipped.
        addresses.extend([0x04, 0x00, 0x03, 1, 2, 3]);
        let input = [v2(0x1, 0x11, &addresses), b"EHLO x\r\n".to_vec()].concat();
        let (header, left) = read(&input).await;
        assert_eq!(header, Ok(Some("192.0.2.25:40000".parse().unwrap())));
        assert_eq!(left, b"EHLO x\r\n");

        let mut addresses = "2001:db8::25"
            .parse::<Ipv6Addr>()
            .unwrap()
            .octets()
            .to_vec();
        addresses.extend(Ipv6Addr::LOCALHOST.octets());
        addresses.extend([0x12, 0x34, 0, 25]);
        let (header, _) = read(&v2(0x1, 0x21, &addresses)).await;
        assert_eq!(header, Ok(Some("[2001:db8::25]:4660".parse().unwrap())));
    }

    #[tokio::test]
    async fn v2_local_and_unspec_use_the_connection() {
        assert_eq!(read(&v2(0x0, 0x00, &[])).await.0, Ok(None));
        assert_eq!(read(&v2(0x1, 0x00, &[])).await.0, Ok(None));
    }

    #[tokio::test]
    async fn malformed_v2_headers_are_errors() {
        let short = v2(0x1, 0x11, &[192, 0, 2, 25]);
        assert_eq!(
            read(&short).await.0,
            Err(ProxyError::BadV2("address block too short"))
        );
        let dgram = v2(0x1, 0x12, &[0; 12]);
        assert!(matches!(read(&dgram).await.0, Err(ProxyError::BadV2(_))));
        let mut version_1 = v2(0x1, 0x11, &[0; 12]);
        version_1[12] = 0x11;
        assert!(matches!(
            read(&version_1).await.0,
            Err(ProxyError::BadV2(_))
        ));
        // The length says more than arrives.
        let mut truncated = v2(0x1, 0x11, &[0; 12]);
        truncated[15] = 200;
        assert_eq!(read(&truncated).await.0, Err(ProxyError::Closed));
    }

    #[test]
    fn headers_are_recognised_by_their_first_bytes() {
        assert!(looks_like_header(b"PROXY TCP4 192.0.2.1 192.0.2.2 1 2\r\n"));
        assert!(looks_like_header(&V2_SIGNATURE));
        assert!(!looks_like_header(b"EHLO client.example\r\n"));
        assert!(!looks_like_header(b"\r\n"));
    }
}
