//! `Dur`, the humantime duration type used by every scenario field that holds a time span.

use std::fmt;
use std::time::Duration;

use schemars::JsonSchema;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A positive duration written in humantime form: `200ms`, `90s`, `5m`, `1h 30m`; at most
/// [`MAX`] (7 days) when read from a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dur(pub Duration);

impl Dur {
    pub fn as_millis(self) -> u64 {
        u64::try_from(self.0.as_millis()).unwrap_or(u64::MAX)
    }
}

impl From<Duration> for Dur {
    fn from(d: Duration) -> Self {
        Dur(d)
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

/// The longest duration any field accepts. A game day longer than a week is a mistake,
/// and the bound keeps every sum of durations and every deadline (`now + duration`) far
/// from overflowing.
pub const MAX: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// Parses `s` as a positive humantime duration of at most [`MAX`], with the error message
/// the loader shows.
pub fn parse(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if t.starts_with('-') {
        return Err(format!("durations must be positive, found \"{s}\""));
    }
    let too_long = || format!("durations are at most 7 days, found \"{s}\"");
    match humantime::parse_duration(t) {
        Ok(d) if d.is_zero() => Err(format!("durations must be greater than zero, found \"{s}\"")),
        Ok(d) if d > MAX => Err(too_long()),
        Ok(d) => Ok(d),
        Err(humantime::DurationError::NumberOverflow) if !t.contains('.') => Err(too_long()),
        Err(_) => Err(format!("expected a duration like \"90s\", found \"{s}\"")),
    }
}

/// Reads a duration through [`parse`]; with `zero_ok`, `0s` (or a bare `0`) is zero.
fn read<'de, D: Deserializer<'de>>(d: D, zero_ok: bool) -> Result<Duration, D::Error> {
    struct V(bool);
    impl Visitor<'_> for V {
        type Value = Duration;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a duration like \"90s\"")
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<Duration, E> {
            match humantime::parse_duration(s.trim()) {
                Ok(d) if d.is_zero() && self.0 => Ok(d),
                _ => parse(s).map_err(E::custom),
            }
        }
        fn visit_i64<E: de::Error>(self, n: i64) -> Result<Duration, E> {
            if n == 0 && self.0 {
                return Ok(Duration::ZERO);
            }
            Err(E::custom(format!("expected a duration with a unit like \"90s\", found the bare number {n}")))
        }
        fn visit_u64<E: de::Error>(self, n: u64) -> Result<Duration, E> {
            self.visit_i64(i64::try_from(n).unwrap_or(i64::MAX))
        }
        fn visit_f64<E: de::Error>(self, n: f64) -> Result<Duration, E> {
            Err(E::custom(format!("expected a duration with a unit like \"90s\", found the bare number {n}")))
        }
    }
    d.deserialize_any(V(zero_ok))
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        read(d, false).map(Dur)
    }
}

/// An offset from an event, like [`Dur`] but `0s` is allowed: "at once".
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Offset(pub Duration);

impl<'de> Deserialize<'de> for Offset {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        read(d, true).map(Offset)
    }
}

impl Serialize for Offset {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Dur(self.0).serialize(s)
    }
}

impl JsonSchema for Offset {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Offset".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "An offset in humantime form, e.g. \"0s\" (at once), \"90s\", \"5m\"; at most 7 days.",
            "pattern": "^\\s*[0-9]+(\\.[0-9]+)?\\s*[a-zA-Zµ]+(\\s*[0-9]+\\s*[a-zA-Zµ]+)*\\s*$"
        })
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl JsonSchema for Dur {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A positive duration in humantime form, e.g. \"200ms\", \"90s\", \"5m\"; at most 7 days.",
            "pattern": "^\\s*[0-9]+(\\.[0-9]+)?\\s*[a-zA-Zµ]+(\\s*[0-9]+\\s*[a-zA-Zµ]+)*\\s*$"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_positive_durations() {
        assert_eq!(parse("200ms"), Ok(Duration::from_millis(200)));
        assert_eq!(parse("1m 30s"), Ok(Duration::from_secs(90)));
    }

    #[test]
    fn rejects_zero_negative_and_words() {
        assert!(parse("0s").unwrap_err().contains("greater than zero"));
        assert!(parse("-5s").unwrap_err().contains("positive"));
        assert_eq!(parse("ninety").unwrap_err(), "expected a duration like \"90s\", found \"ninety\"");
    }

    /// An offset may be zero ("at once"); a duration may not.
    #[test]
    fn an_offset_may_be_zero() {
        let off = |v: serde_json::Value| serde_json::from_value::<Offset>(v).map(|o| o.0).map_err(|e| e.to_string());
        assert_eq!(off(serde_json::json!("0s")), Ok(Duration::ZERO));
        assert_eq!(off(serde_json::json!(0)), Ok(Duration::ZERO));
        assert_eq!(off(serde_json::json!("2m")), Ok(Duration::from_secs(120)));
        assert!(off(serde_json::json!("-1s")).unwrap_err().contains("positive"));
        assert!(off(serde_json::json!(5)).unwrap_err().contains("bare number 5"));
        assert!(serde_json::from_value::<Dur>(serde_json::json!("0s")).is_err());
    }

    /// Anything longer than a week is refused, including what does not fit a `Duration`.
    #[test]
    fn rejects_durations_over_seven_days() {
        assert_eq!(parse("7d"), Ok(MAX));
        assert_eq!(parse("168h"), Ok(MAX));
        for long in ["7d 1ns", "8d", "18446744073709551615s", "300000000000y", "99999999999999999999999999s"] {
            assert_eq!(parse(long).unwrap_err(), format!("durations are at most 7 days, found \"{long}\""), "{long}");
        }
    }
}
