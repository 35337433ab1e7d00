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

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Dur;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration like \"90s\"")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Dur, E> {
                parse(s).map(Dur).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Dur, E> {
                Err(E::custom(format!("expected a duration with a unit like \"90s\", found the bare number {n}")))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Dur, E> {
                self.visit_i64(i64::try_from(n).unwrap_or(i64::MAX))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Dur, E> {
                Err(E::custom(format!("expected a duration with a unit like \"90s\", found the bare number {n}")))
            }
        }
        d.deserialize_any(V)
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
