//! Value encoding: postcard (compact, serde-based) for every stored record.

use serde::{de::DeserializeOwned, Serialize};

use crate::Error;

/// Encodes a record.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, Error> {
    postcard::to_stdvec(value).map_err(Error::Encode)
}

/// Decodes a record read from disk, naming it in the error.
pub fn decode<T: DeserializeOwned>(what: &'static str, bytes: &[u8]) -> Result<T, Error> {
    postcard::from_bytes(bytes).map_err(|source| Error::Corrupt { what, source })
}

#[cfg(test)]
pub(crate) mod golden;
