//! Reads a ZIP archive's entry names and encryption flags (APPNOTE.TXT
//! §4.3.12 central directory, §4.3.7 local headers) without decompressing
//! or decrypting anything: enough to see an executable inside, or a
//! password-protected archive (PPAP, Emotet's favourite envelope).

/// Entries read per archive.
pub const MAX_ENTRIES: usize = 1000;
const EOCD: &[u8; 4] = b"PK\x05\x06";
const CENTRAL: &[u8; 4] = b"PK\x01\x02";
const LOCAL: &[u8; 4] = b"PK\x03\x04";
/// End of central directory record: 22 bytes plus a comment of up to 64 KiB.
const EOCD_SEARCH: usize = 22 + 0xFFFF;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    /// General purpose flag bit 0: the entry is encrypted (ZipCrypto or AES).
    pub encrypted: bool,
}

/// Whether `bytes` start like a ZIP archive (also Office Open XML, JAR…).
pub fn is_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(LOCAL) || bytes.starts_with(EOCD)
}

/// The entries from the central directory; from the local headers when the
/// directory is missing, truncated or ZIP64.
pub fn entries(bytes: &[u8]) -> Vec<Entry> {
    central_directory(bytes).unwrap_or_else(|| local_headers(bytes))
}

fn u16_at(bytes: &[u8], at: usize) -> Option<usize> {
    let b = bytes.get(at..at + 2)?;
    Some(u16::from_le_bytes([b[0], b[1]]) as usize)
}

fn u32_at(bytes: &[u8], at: usize) -> Option<usize> {
    let b = bytes.get(at..at + 4)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
}

fn central_directory(bytes: &[u8]) -> Option<Vec<Entry>> {
    let from = bytes.len().saturating_sub(EOCD_SEARCH);
    let eocd = from + bytes[from..].windows(4).rposition(|w| w == EOCD)?;
    let total = u16_at(bytes, eocd + 10)?;
    let offset = u32_at(bytes, eocd + 16)?;
    if total == 0xFFFF || offset == 0xFFFF_FFFF {
        return None; // ZIP64: read the local headers instead.
    }
    let mut entries = Vec::new();
    let mut at = offset;
    for _ in 0..total.min(MAX_ENTRIES) {
        if bytes.get(at..at + 4)? != CENTRAL {
            return None;
        }
        let flags = u16_at(bytes, at + 8)?;
        let name_len = u16_at(bytes, at + 28)?;
        let extra_len = u16_at(bytes, at + 30)?;
        let comment_len = u16_at(bytes, at + 32)?;
        let name = bytes.get(at + 46..at + 46 + name_len)?;
        entries.push(Entry {
            name: String::from_utf8_lossy(name).into_owned(),
            encrypted: flags & 1 == 1,
        });
        at += 46 + name_len + extra_len + comment_len;
    }
    Some(entries)
}

/// Scans for local file headers; each one's name and flags. Data between
/// them is skipped by searching, as sizes may sit in a trailing descriptor.
fn local_headers(bytes: &[u8]) -> Vec<Entry> {
    let mut entries = Vec::new();
    let mut at = 0;
    while entries.len() < MAX_ENTRIES {
        let Some(found) = bytes[at.min(bytes.len())..]
            .windows(4)
            .position(|w| w == LOCAL)
        else {
            break;
        };
        let start = at + found;
        let (Some(flags), Some(name_len)) = (u16_at(bytes, start + 6), u16_at(bytes, start + 26))
        else {
            break;
        };
        let Some(name) = bytes.get(start + 30..start + 30 + name_len) else {
            break;
        };
        entries.push(Entry {
            name: String::from_utf8_lossy(name).into_owned(),
            encrypted: flags & 1 == 1,
        });
        at = start + 30 + name_len;
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stored (uncompressed) archive built by hand: one local header, one
    /// central directory entry, the end record.
    fn archive(name: &str, flags: u16, central: bool) -> Vec<u8> {
        let data = b"hello";
        let mut zip = Vec::new();
        zip.extend_from_slice(LOCAL);
        zip.extend_from_slice(&[20, 0]);
        zip.extend_from_slice(&flags.to_le_bytes());
        zip.extend_from_slice(&[0; 10]); // method, time, date, crc
        zip.extend_from_slice(&(data.len() as u32).to_le_bytes());
        zip.extend_from_slice(&(data.len() as u32).to_le_bytes());
        zip.extend_from_slice(&(name.len() as u16).to_le_bytes());
        zip.extend_from_slice(&[0, 0]);
        zip.extend_from_slice(name.as_bytes());
        zip.extend_from_slice(data);
        if !central {
            return zip;
        }
        let cd_offset = zip.len() as u32;
        zip.extend_from_slice(CENTRAL);
        zip.extend_from_slice(&[20, 0, 20, 0]);
        zip.extend_from_slice(&flags.to_le_bytes());
        zip.extend_from_slice(&[0; 18]);
        zip.extend_from_slice(&(name.len() as u16).to_le_bytes());
        zip.extend_from_slice(&[0; 16]);
        zip.extend_from_slice(name.as_bytes());
        let cd_len = zip.len() as u32 - cd_offset;
        zip.extend_from_slice(EOCD);
        zip.extend_from_slice(&[0, 0, 0, 0, 1, 0, 1, 0]);
        zip.extend_from_slice(&cd_len.to_le_bytes());
        zip.extend_from_slice(&cd_offset.to_le_bytes());
        zip.extend_from_slice(&[0, 0]);
        zip
    }

    #[test]
    fn reads_names_and_the_encryption_flag() {
        let zip = archive("invoice.exe", 1, true);
        assert!(is_zip(&zip));
        assert_eq!(
            entries(&zip),
            vec![Entry {
                name: "invoice.exe".into(),
                encrypted: true
            }]
        );
        assert!(!entries(&archive("a.txt", 0, true))[0].encrypted);
    }

    #[test]
    fn falls_back_to_local_headers_and_survives_garbage() {
        let zip = archive("doc.pdf", 1, false);
        assert_eq!(entries(&zip)[0].name, "doc.pdf");
        let mut truncated = archive("x.js", 0, true);
        truncated.truncate(truncated.len() - 30);
        assert_eq!(entries(&truncated)[0].name, "x.js");
        assert!(entries(b"PK\x05\x06\xff\xff").is_empty());
        assert!(entries(&[0xff; 100]).is_empty());
    }
}
