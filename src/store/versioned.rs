//! JSON records with their format beside the fields: `{"v": N, ...}`.
//! Surveys, survey rows and webhook deliveries are kept this way, so a
//! build that meets a record written by a newer one says so and leaves it
//! untouched, and one written before records were numbered (no `v`) reads
//! as format 0.

use super::StoreError;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

#[derive(Serialize)]
struct Writing<'a, T> {
    v: u32,
    #[serde(flatten)]
    record: &'a T,
}

/// `record` as kept, in `format`.
pub fn encode<T: Serialize>(record: &T, format: u32) -> Vec<u8> {
    serde_json::to_vec(&Writing { v: format, record }).expect("a stored record serialises")
}

/// A kept record of kind `name`: one newer than `readable` is refused with
/// [`StoreError::NewerFormat`], one that does not parse is corrupt.
pub fn decode<T: DeserializeOwned>(
    bytes: &[u8],
    name: &'static str,
    readable: u32,
) -> Result<T, StoreError> {
    #[derive(Deserialize)]
    struct Format {
        #[serde(default)]
        v: u32,
    }
    // The format first: a newer record may not parse as this build's.
    let format = serde_json::from_slice::<Format>(bytes)
        .map_err(|e| StoreError::Corrupt(format!("{name}: {e}")))?
        .v;
    if format > readable {
        return Err(StoreError::NewerFormat {
            record: name,
            format,
            readable,
        });
    }
    // `v` itself is one more field to the record's type, which ignores it.
    serde_json::from_slice::<T>(bytes).map_err(|e| StoreError::Corrupt(format!("{name}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Thing {
        name: String,
    }

    #[test]
    fn a_record_carries_its_format_and_an_unnumbered_one_reads_as_format_0() {
        let thing = Thing { name: "a".into() };
        let bytes = encode(&thing, 1);
        assert_eq!(bytes, br#"{"v":1,"name":"a"}"#);
        assert_eq!(decode::<Thing>(&bytes, "thing", 1).unwrap(), thing);
        assert_eq!(
            decode::<Thing>(br#"{"name":"a"}"#, "thing", 1).unwrap(),
            thing
        );
    }

    #[test]
    fn a_newer_record_is_refused_by_name_and_a_broken_one_is_corrupt() {
        let newer = decode::<Thing>(br#"{"v":2,"other":[1]}"#, "thing", 1)
            .unwrap_err()
            .to_string();
        assert_eq!(
            newer,
            "thing written by a newer mailscore (format 2; this one reads up to 1), left untouched"
        );
        assert!(matches!(
            decode::<Thing>(b"{", "thing", 1),
            Err(StoreError::Corrupt(_))
        ));
    }
}
