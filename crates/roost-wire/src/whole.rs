//! Whole numbers in JSON request bodies. JSON has one number type, so `5.0` is as much the
//! integer 5 as `5` is (JSON Schema agrees, and some clients write integers that way); serde
//! reads a float into an integer field as an error. Fields that take a count, an id or a
//! bound read through these: a whole number in the field's range is accepted however it is
//! written, anything else is refused as invalid JSON.

use serde::{Deserialize, Deserializer};

/// A whole number for a field of type `T`.
pub fn one<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i128>,
{
    whole(serde_json::Number::deserialize(d)?)
}

/// An optional whole number for a field of type `T` (`null` or absent: `None`; the field also
/// needs `#[serde(default)]`).
pub fn opt<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i128>,
{
    Option::<serde_json::Number>::deserialize(d)?
        .map(whole)
        .transpose()
}

/// `n` as a `T` when it is whole and in `T`'s range.
fn whole<T: TryFrom<i128>, E: serde::de::Error>(n: serde_json::Number) -> Result<T, E> {
    let wide = if let Some(u) = n.as_u64() {
        Some(i128::from(u))
    } else if let Some(i) = n.as_i64() {
        Some(i128::from(i))
    } else {
        // Within ±2^64 every float that is whole is exactly an integer.
        n.as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 18_446_744_073_709_551_616.0)
            .map(|f| f as i128)
    };
    wide.and_then(|w| T::try_from(w).ok())
        .ok_or_else(|| E::custom(format!("{n} is not a whole number in the field's range")))
}

#[cfg(test)]
mod tests {
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Body {
        #[serde(deserialize_with = "super::one")]
        n: u32,
        #[serde(default, deserialize_with = "super::opt")]
        m: Option<i64>,
    }

    fn parse(text: &str) -> Option<Body> {
        serde_json::from_str(text).ok()
    }

    #[test]
    fn whole_numbers_are_read_however_written() {
        assert_eq!(parse(r#"{"n": 5}"#), Some(Body { n: 5, m: None }));
        assert_eq!(
            parse(r#"{"n": 5.0, "m": -3e2}"#),
            Some(Body {
                n: 5,
                m: Some(-300)
            })
        );
        assert_eq!(
            parse(r#"{"n": 1, "m": null}"#),
            Some(Body { n: 1, m: None })
        );
        for bad in [
            r#"{"n": 5.5}"#,
            r#"{"n": -1}"#,
            r#"{"n": 4294967296}"#,
            r#"{"n": "5"}"#,
            r#"{"n": 1, "m": 1e300}"#,
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
