//! Stored reports, compressed: zstd with a dictionary made of stored
//! reports, so that what every report repeats (field names, check names,
//! the usual values) costs a few bytes. Measured on reports of this build:
//! 5.2-6.1 KB stored forms became ~1 KB (5-6x); without the dictionary,
//! zstd or deflate reached only 2.1-2.3x, since one report alone repeats
//! little. The disk held ~9.7 KB of reports per test before (kept twice),
//! against a 2 KB message.
//!
//! A dictionary, once used, is needed to read every report written with
//! it: `zstd-dictionary-1.bin` never changes. A better one would come with
//! a format of its own (tag and dictionary together).

use std::borrow::Cow;
use std::cell::RefCell;
use zstd::bulk::{Compressor, Decompressor};

/// The first byte of a compressed report; then the length of the stored
/// form inside (u32, little-endian), then the zstd frame.
pub const TAG: u8 = 0x03;

/// Stored reports of this build, concatenated: a raw-content dictionary.
const DICTIONARY: &[u8] = include_bytes!("zstd-dictionary-1.bin");

/// A fast negative level: it leaves the literals without Huffman coding,
/// whose tables zstd builds afresh for every small frame. Measured on 300
/// stored reports of the ingest bench (5.1 KB each, python-zstandard, same
/// dictionary): level 3 took 11.7 µs a report for 534 bytes, level 1
/// 11.4 µs for 569, level -1 7.4 µs for 606, level -3 6.9 µs for 710.
/// Under a flood the compression was 14 % of the analysis thread's CPU;
/// 72 bytes more a report is 3 % of a stored 2 KB message. Any level reads
/// back the same way.
const LEVEL: i32 = -1;

/// A stored form larger than this is not read back: no report is near it.
const MAX_STORED: usize = 64 << 20;

thread_local! {
    // Loading the dictionary costs more than compressing one report: once
    // a thread.
    static COMPRESSOR: RefCell<Option<Compressor<'static>>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<Decompressor<'static>>> = const { RefCell::new(None) };
}

/// `stored` (a report's stored form), compressed behind [`TAG`].
pub fn pack(stored: &[u8]) -> std::io::Result<Vec<u8>> {
    let frame = COMPRESSOR.with_borrow_mut(|compressor| {
        let compressor = match compressor {
            Some(c) => c,
            None => compressor.insert(Compressor::with_dictionary(LEVEL, DICTIONARY)?),
        };
        compressor.compress(stored)
    })?;
    let len = u32::try_from(stored.len()).map_err(std::io::Error::other)?;
    let mut packed = Vec::with_capacity(5 + frame.len());
    packed.push(TAG);
    packed.extend_from_slice(&len.to_le_bytes());
    packed.extend_from_slice(&frame);
    Ok(packed)
}

/// The stored form inside `packed`, or `packed` itself if it is not
/// compressed.
pub fn unpack(packed: &[u8]) -> Result<Cow<'_, [u8]>, String> {
    let Some(rest) = packed.strip_prefix(&[TAG]) else {
        return Ok(Cow::Borrowed(packed));
    };
    let (len, frame) = rest
        .split_first_chunk::<4>()
        .ok_or("compressed report cut short")?;
    let len = u32::from_le_bytes(*len) as usize;
    if len > MAX_STORED {
        return Err(format!("compressed report says it holds {len} bytes"));
    }
    let stored = DECOMPRESSOR.with_borrow_mut(|decompressor| {
        let decompressor = match decompressor {
            Some(d) => d,
            None => decompressor.insert(Decompressor::with_dictionary(DICTIONARY)?),
        };
        decompressor.decompress(frame, len)
    });
    match stored {
        Ok(stored) if stored.len() == len => Ok(Cow::Owned(stored)),
        Ok(stored) => Err(format!(
            "compressed report holds {} bytes, not the {len} it says",
            stored.len()
        )),
        Err(e) => Err(format!("compressed report: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_comes_back_as_it_went_and_smaller() {
        let stored = &DICTIONARY[..5000];
        let packed = pack(stored).unwrap();
        assert_eq!(packed[0], TAG);
        assert!(packed.len() < stored.len() / 4, "{}", packed.len());
        assert_eq!(unpack(&packed).unwrap(), stored);
        // Not compressed: as it is.
        assert_eq!(unpack(b"{\"score\":1}").unwrap(), &b"{\"score\":1}"[..]);
    }

    #[test]
    fn a_broken_one_is_an_error_not_a_panic() {
        let packed = pack(b"{\"score\":9.5}").unwrap();
        for cut in 0..packed.len() {
            let _ = unpack(&packed[..cut]);
        }
        let mut wrong_len = packed.clone();
        wrong_len[1] = 99;
        assert!(unpack(&wrong_len).is_err());
        assert!(unpack(&[TAG, 0xff, 0xff, 0xff, 0xff]).is_err());
        let mut flipped = packed;
        let last = flipped.len() - 1;
        flipped[last] ^= 0xff;
        let _ = unpack(&flipped);
    }
}
