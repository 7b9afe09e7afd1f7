//! Values a request carries that need more than a plain field: a JSON document kept as the
//! exact text the client sent, and a time.

use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

/// A client's JSON document (a payload, a result), kept as the exact text it sent: going
/// through `serde_json::Value` would change what a client may legally send (`1e400`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Doc(String);

impl Doc {
    /// `text` as a document, if it is one JSON value.
    pub fn parse(text: impl Into<String>) -> Result<Self, serde_json::Error> {
        let text = text.into();
        serde_json::from_str::<&RawValue>(&text)?;
        Ok(Doc(text))
    }

    /// The document's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The document's text, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl<'de> Deserialize<'de> for Doc {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Box::<RawValue>::deserialize(d).map(|raw| Doc(raw.get().to_owned()))
    }
}

impl Serialize for Doc {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Checked as JSON when made; embedded verbatim.
        serde_json::from_str::<&RawValue>(&self.0)
            .map_err(S::Error::custom)?
            .serialize(s)
    }
}

/// A time a client names (`runAt`, `deadline`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Time {
    /// RFC 3339 text, checked when used.
    Text(String),
    /// Ms since the epoch (the gRPC API's spelling).
    Ms(u64),
}

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Time::Text)
    }
}

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Time::Text(t) => s.serialize_str(t),
            // JSON requests name times as RFC 3339 text only.
            Time::Ms(_) => Err(S::Error::custom(
                "a time in ms is for the gRPC API; JSON takes RFC 3339 text",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_keep_their_bytes_both_ways() -> Result<(), serde_json::Error> {
        let d: Doc = serde_json::from_str(r#"{"n": 1e400}"#)?;
        assert_eq!(d.as_str(), r#"{"n": 1e400}"#);
        assert_eq!(serde_json::to_string(&d)?, r#"{"n": 1e400}"#);
        assert!(Doc::parse("{").is_err());
        assert!(serde_json::to_string(&Time::Ms(1)).is_err());
        assert_eq!(serde_json::to_string(&Time::Text("x".into()))?, r#""x""#);
        Ok(())
    }
}
