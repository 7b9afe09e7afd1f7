//! Value encoding: postcard (compact, serde-based) for every stored record.

use serde::{de::DeserializeOwned, Serialize};

use crate::Error;

/// Encodes a record. Serializing Roost's own types into a Vec cannot fail.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_stdvec(value).unwrap_or_default()
}

/// Decodes a record read from disk, naming it in the error.
pub fn decode<T: DeserializeOwned>(what: &'static str, bytes: &[u8]) -> Result<T, Error> {
    postcard::from_bytes(bytes).map_err(|source| Error::Corrupt { what, source })
}
