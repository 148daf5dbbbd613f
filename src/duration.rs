//! Durations as Kubernetes writes them (Go's `time.Duration` text: `24h0m0s`, `8760h`, `1m30s`).

use std::time::Duration;

/// The units of a Go duration, in nanoseconds.
const UNITS: &[(&str, u128)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("\u{b5}s", 1_000),
    ("\u{3bc}s", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// Go's `time.Duration` counts nanoseconds in a signed 64-bit integer: its magnitude is at
/// most 2^63 nanoseconds (2^63 - 1 when positive).
const LIMIT: u128 = 1 << 63;

/// Parses a Go duration as `time.ParseDuration` reads it (the flags and configuration
/// fields of kubeadm go through it): an optional sign, then one or more decimal numbers,
/// each with a unit (`1h30m`, `-5s`, `1.5h`, `.5s`, `0`), no spaces, and no more than Go's
/// `time.Duration` holds (about 292 years either way).
///
/// ```
/// use kubeadm::duration::parse_go_duration;
/// assert_eq!(parse_go_duration("-1m30s"), Ok(time::Duration::seconds(-90)));
/// assert!(parse_go_duration("99999999999h").unwrap_err().contains("out of range"));
/// ```
pub fn parse_go_duration(text: &str) -> Result<time::Duration, String> {
    let syntax = || {
        format!("invalid duration {text:?}: expected a number with a unit (ns, us, ms, s, m, h), for example \"24h0m0s\"")
    };
    let range = || {
        format!("invalid duration {text:?}: out of range; a duration is at most 2562047h47m16.854775807s either way")
    };
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(time::Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(syntax());
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
        let (whole, after) = rest.split_at(digits(rest));
        let (fraction, after) = match after.strip_prefix('.') {
            Some(a) => a.split_at(digits(a)),
            None => ("", after),
        };
        if whole.is_empty() && fraction.is_empty() {
            return Err(syntax());
        }
        let unit_len = after
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let per = match UNITS.iter().find(|(u, _)| *u == unit) {
            Some((_, per)) => *per,
            None if unit.is_empty() => {
                return Err(format!(
                    "invalid duration {text:?}: a number without a unit; the units are ns, us, ms, s, m and h, for example \"24h0m0s\""
                ))
            }
            None => {
                return Err(format!(
                    "invalid duration {text:?}: unknown unit {unit:?}; the units are ns, us, ms, s, m and h"
                ))
            }
        };
        // Go refuses a number above 2^63 as written, before its unit applies.
        let whole: u128 = if whole.is_empty() {
            0
        } else if whole.trim_start_matches('0').len() > 19 {
            return Err(range());
        } else {
            whole.parse().map_err(|_| syntax())?
        };
        if whole > LIMIT || whole * per > LIMIT {
            return Err(range());
        }
        // Digits past the 25th add less than a nanosecond even to hours, and more would
        // overflow the arithmetic.
        let fraction = &fraction[..fraction.len().min(25)];
        let part = match fraction.parse::<u128>() {
            Ok(f) => whole * per + f * per / 10u128.pow(fraction.len() as u32),
            Err(_) => whole * per,
        };
        total += part;
        if part > LIMIT || total > LIMIT {
            return Err(range());
        }
        rest = after;
    }
    if !negative && total == LIMIT {
        return Err(range());
    }
    let nanos = if negative {
        -(total as i128)
    } else {
        total as i128
    };
    i64::try_from(nanos)
        .map(time::Duration::nanoseconds)
        .map_err(|_| range())
}

/// Parses a Go duration that may not be negative, such as a configuration file's
/// timeouts and validity periods.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(kubeadm::duration::parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
/// assert!(kubeadm::duration::parse_duration("1d").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let d = parse_go_duration(text)?;
    if d.is_negative() {
        return Err(format!(
            "invalid duration {text:?}: a negative duration is not accepted here"
        ));
    }
    Ok(d.unsigned_abs())
}

/// Formats a duration as Go does (`24h0m0s`, `1m30s`, `500ms`, `0s`).
pub fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    if nanos < 1_000_000_000 {
        return if nanos % 1_000_000 == 0 {
            format!("{}ms", nanos / 1_000_000)
        } else if nanos % 1_000 == 0 {
            format!("{}µs", nanos / 1_000)
        } else {
            format!("{nanos}ns")
        };
    }
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    let frac = d.subsec_nanos();
    let sec_text = if frac == 0 {
        format!("{s}")
    } else {
        let f = format!("{:09}", frac);
        format!("{s}.{}", f.trim_end_matches('0'))
    };
    if h > 0 {
        format!("{h}h{m}m{sec_text}s")
    } else if m > 0 {
        format!("{m}m{sec_text}s")
    } else {
        format!("{sec_text}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        assert_eq!(
            parse_duration("24h0m0s").unwrap(),
            Duration::from_secs(86400)
        );
        assert_eq!(
            parse_duration("8760h").unwrap(),
            Duration::from_secs(8760 * 3600)
        );
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1.5h").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("+0").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("+2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration(".5s").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1.s").unwrap(), Duration::from_secs(1));
        assert_eq!(parse_duration("1h1h").unwrap(), Duration::from_secs(7200));
        assert_eq!(
            parse_duration("3\u{b5}s").unwrap(),
            Duration::from_micros(3)
        );
        assert_eq!(
            parse_duration("3\u{3bc}s").unwrap(),
            Duration::from_micros(3)
        );
        assert_eq!(
            parse_duration("1.0000000005s").unwrap(),
            Duration::from_nanos(1_000_000_000)
        );
        assert_eq!(parse_duration("0.1ns").unwrap(), Duration::ZERO);
        for bad in [
            "", "24", "h", "1d", "-1h", "1h-2m", "abc", ".s", "-", "+", " 1h", "1h ", "1 h",
            "1..5s", "1e3s", "0x10s",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(parse_duration("1d")
            .unwrap_err()
            .contains("unknown unit \"d\""));
        assert!(parse_duration("24").unwrap_err().contains("without a unit"));
        assert!(parse_duration("-1h").unwrap_err().contains("negative"));
    }

    /// The sign, and Go's range: the magnitude of a `time.Duration` is at most 2^63 ns
    /// (2^63 - 1 when positive), whether written in one number or several.
    #[test]
    fn parses_signs_and_go_range() {
        let ns = |n: i64| time::Duration::nanoseconds(n);
        assert_eq!(parse_go_duration("-5s"), Ok(time::Duration::seconds(-5)));
        assert_eq!(parse_go_duration("-0"), Ok(time::Duration::ZERO));
        assert_eq!(parse_go_duration("-1.5h"), Ok(time::Duration::minutes(-90)));
        assert_eq!(
            parse_go_duration("2562047h47m16.854775807s"),
            Ok(ns(i64::MAX))
        );
        assert_eq!(parse_go_duration("9223372036854775807ns"), Ok(ns(i64::MAX)));
        assert_eq!(
            parse_go_duration("-2562047h47m16.854775808s"),
            Ok(ns(i64::MIN))
        );
        assert_eq!(
            parse_go_duration("-9223372036854775808ns"),
            Ok(ns(i64::MIN))
        );
        assert_eq!(
            parse_go_duration("000000000000000000000000001s"),
            Ok(time::Duration::SECOND)
        );
        for over in [
            "99999999999h",
            "2562048h",
            "2562047h47m16.854775808s",
            "9223372036854775808ns",
            "-9223372036854775809ns",
            "99999999999999999999999s",
            "2562047h2562047h",
            "1500000h1500000h",
        ] {
            let e = parse_go_duration(over).unwrap_err();
            assert!(e.contains("out of range"), "{over}: {e}");
        }
        assert!(parse_duration("99999999999h")
            .unwrap_err()
            .contains("out of range"));
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(format_duration(Duration::from_secs(86400)), "24h0m0s");
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_duration(Duration::from_secs(4)), "4s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(format_duration(Duration::ZERO), "0s");
        for s in ["24h0m0s", "8760h0m0s", "2m0s", "1h0m0.5s"] {
            assert_eq!(format_duration(parse_duration(s).unwrap()), s);
        }
    }
}

/// A duration that reads and writes as Go text (`24h0m0s`), for configuration files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct GoDuration(pub Duration);

impl serde::Serialize for GoDuration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(self.0))
    }
}

impl<'de> serde::Deserialize<'de> for GoDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse_duration(&text)
            .map(GoDuration)
            .map_err(serde::de::Error::custom)
    }
}
