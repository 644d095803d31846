//! MIME entities and multipart bodies found by hand on the raw bytes:
//! where a part's header block ends and where each body part sits between
//! its delimiter lines. Used where the bytes themselves matter (what an
//! S/MIME signature covers) or where decoding them would cost too much (a
//! big attachment, [`super::big_parts`]).

/// A multipart body with more parts than this is only read this far.
const MAX_PARTS: usize = 64;

/// An entity's header block (with the empty line that ends it) and its
/// body. Without an empty line, all of it is header.
pub fn split(bytes: &[u8]) -> (&[u8], &[u8]) {
    let mut pos = 0;
    while let Some(i) = memchr::memchr(b'\n', &bytes[pos..]) {
        let line_end = pos + i;
        let line = &bytes[pos..line_end];
        if line.is_empty() || line == b"\r" {
            return (&bytes[..line_end + 1], &bytes[line_end + 1..]);
        }
        pos = line_end + 1;
    }
    (bytes, &[])
}

/// The body parts of a multipart body, each exactly as between its
/// delimiter lines (RFC 2046 §5.1.1): the line break before a delimiter
/// belongs to the delimiter. A missing close delimiter ends the last part at
/// the end of the body.
pub fn body_parts<'a>(body: &'a [u8], boundary: &[u8]) -> Vec<&'a [u8]> {
    let needle = [b"--", boundary].concat();
    let mut parts = Vec::new();
    // A delimiter line cannot hold a line break.
    if needle.contains(&b'\n') {
        return parts;
    }
    let mut part_start: Option<usize> = None;
    // Only where `--boundary` occurs can a delimiter line start: found by
    // memmem, not by reading every line of a 10 MB attachment.
    for line_start in memchr::memmem::find_iter(body, &needle) {
        if line_start > 0 && body[line_start - 1] != b'\n' {
            continue;
        }
        let line_end =
            memchr::memchr(b'\n', &body[line_start..]).map_or(body.len(), |i| line_start + i);
        let Some(close) = delimiter(&body[line_start..line_end], boundary) else {
            continue;
        };
        if let Some(start) = part_start {
            parts.push(&body[start..part_end(body, line_start).max(start)]);
        }
        if close || parts.len() >= MAX_PARTS {
            return parts;
        }
        part_start = Some((line_end + 1).min(body.len()));
    }
    if let Some(start) = part_start {
        parts.push(&body[start.min(body.len())..]);
    }
    parts
}

/// `Some(is_close)` when `line` (without its LF) is `--boundary` or
/// `--boundary--`, with optional trailing white space.
fn delimiter(line: &[u8], boundary: &[u8]) -> Option<bool> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let rest = line.strip_prefix(b"--")?.strip_prefix(boundary)?;
    let (close, rest) = match rest.strip_prefix(b"--") {
        Some(rest) => (true, rest),
        None => (false, rest),
    };
    rest.iter()
        .all(|&b| b == b' ' || b == b'\t')
        .then_some(close)
}

/// Where the part before a delimiter line starting at `line_start` ends:
/// before the CRLF (or bare LF) that precedes the delimiter.
fn part_end(body: &[u8], line_start: usize) -> usize {
    let mut end = line_start;
    if end > 0 && body[end - 1] == b'\n' {
        end -= 1;
        if end > 0 && body[end - 1] == b'\r' {
            end -= 1;
        }
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_the_bytes_between_delimiter_line_breaks() {
        let body = b"preamble\r\n--b\r\nA: 1\r\n\r\nx\r\n\r\n--b  \r\nsig\r\n--b--\r\nepilogue";
        assert_eq!(
            body_parts(body, b"b"),
            vec![&b"A: 1\r\n\r\nx\r\n"[..], &b"sig"[..]]
        );
    }

    #[test]
    fn a_longer_boundary_sharing_the_prefix_is_not_a_delimiter() {
        let body = b"--b\r\none\r\n--bb\r\nstill one\r\n--b--\r\n";
        assert_eq!(
            body_parts(body, b"b"),
            vec![&b"one\r\n--bb\r\nstill one"[..]]
        );
    }

    #[test]
    fn unterminated_multipart_ends_at_the_end() {
        assert_eq!(
            body_parts(b"--b\nx\n--b\ny", b"b"),
            vec![&b"x"[..], &b"y"[..]]
        );
        assert_eq!(body_parts(b"--b", b"b"), vec![&b""[..]]);
        assert!(body_parts(b"", b"b").is_empty());
    }

    #[test]
    fn header_block_ends_at_the_first_empty_line() {
        let (header, body) = split(b"A: 1\r\nB: 2\r\n\r\nbody\r\n\r\nmore");
        assert_eq!(header, b"A: 1\r\nB: 2\r\n\r\n");
        assert_eq!(body, b"body\r\n\r\nmore");
        assert_eq!(split(b"\nbody"), (&b"\n"[..], &b"body"[..]));
        assert_eq!(split(b"A: 1").1, b"");
    }
}
