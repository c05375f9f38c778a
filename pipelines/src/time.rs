//! Event time: milliseconds since the Unix epoch, slide alignment, and the duration syntax of the
//! config file (`"30d"`, `"1m"`, `"30min"`, `"500ms"`).

use std::fmt;

/// Event time in milliseconds since the Unix epoch (UTC).
pub type Millis = u64;

/// The first slide boundary at or after `ts`: an event counts at `ceil(ts / slide) * slide`.
pub fn slot(ts: Millis, slide: Millis) -> Millis {
    ts.div_ceil(slide).saturating_mul(slide)
}

/// Parses an RFC 3339 timestamp with any offset into epoch milliseconds; `None` when the text is
/// not RFC 3339 or lies before 1970.
pub fn parse_rfc3339(text: &str) -> Option<Millis> {
    let parsed = chrono::DateTime::parse_from_rfc3339(text).ok()?;
    u64::try_from(parsed.timestamp_millis()).ok()
}

/// Formats epoch milliseconds as RFC 3339 in UTC with millisecond precision.
pub fn format_rfc3339(ts: Millis) -> String {
    match chrono::DateTime::from_timestamp_millis(ts as i64) {
        Some(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        None => format!("{ts}ms"),
    }
}

/// Days since 1970-01-01 from chrono's days since 0001-01-01 (CE).
const EPOCH_CE_DAYS: i32 = 719_163;

/// The date of a UTC day (days since 1970-01-01); None outside chrono's range.
pub fn date_of(day: i32) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::from_num_days_from_ce_opt(day.checked_add(EPOCH_CE_DAYS)?)
}

/// The UTC day (days since 1970-01-01) of a date.
pub fn day_of_date(date: chrono::NaiveDate) -> i32 {
    use chrono::Datelike;
    date.num_days_from_ce() - EPOCH_CE_DAYS
}

/// A UTC day as `YYYY-MM-DD`.
pub fn format_date(day: i32) -> String {
    date_of(day).map_or_else(
        || format!("day {day}"),
        |d| d.format("%Y-%m-%d").to_string(),
    )
}

/// A span of time written as a number and a unit, kept in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span(pub Millis);

impl Span {
    pub const fn minutes(n: u64) -> Span {
        Span(n * 60_000)
    }
    pub const fn hours(n: u64) -> Span {
        Span(n * 3_600_000)
    }
    pub const fn days(n: u64) -> Span {
        Span(n * 86_400_000)
    }
    pub fn millis(self) -> Millis {
        self.0
    }
}

const UNITS: [(&str, u64); 6] = [
    ("ms", 1),
    ("s", 1_000),
    ("min", 60_000),
    ("m", 60_000),
    ("h", 3_600_000),
    ("d", 86_400_000),
];

impl std::str::FromStr for Span {
    type Err = String;
    fn from_str(text: &str) -> Result<Span, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (digits, unit) = text.split_at(split);
        let unit = unit.trim();
        let explain = || {
            format!("`{text}` is not a duration: write a whole number and a unit (ms, s, m or min, h, d), e.g. \"30d\" or \"1m\"")
        };
        let n: u64 = digits.parse().map_err(|_| explain())?;
        let (_, factor) = UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .ok_or_else(explain)?;
        n.checked_mul(*factor).map(Span).ok_or_else(explain)
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0;
        let (name, factor) = UNITS
            .iter()
            .rev()
            .filter(|(name, _)| *name != "min")
            .find(|(_, factor)| ms % factor == 0 && ms > 0)
            .copied()
            .unwrap_or(("ms", 1));
        write!(f, "{}{}", ms / factor, name)
    }
}

impl serde::Serialize for Span {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Span {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Span, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_round_up_to_the_slide() {
        assert_eq!(slot(0, 60_000), 0);
        assert_eq!(slot(1, 60_000), 60_000);
        assert_eq!(slot(60_000, 60_000), 60_000);
        assert_eq!(slot(60_001, 60_000), 120_000);
    }

    #[test]
    fn spans_parse_and_print() {
        assert_eq!("30d".parse::<Span>().unwrap(), Span::days(30));
        assert_eq!("1m".parse::<Span>().unwrap(), Span::minutes(1));
        assert_eq!("30min".parse::<Span>().unwrap(), Span::minutes(30));
        assert_eq!("250ms".parse::<Span>().unwrap(), Span(250));
        assert_eq!(Span::minutes(30).to_string(), "30m");
        assert_eq!(Span::days(30).to_string(), "30d");
        assert!("-5d"
            .parse::<Span>()
            .unwrap_err()
            .contains("not a duration"));
        assert!("5 weeks".parse::<Span>().is_err());
    }

    #[test]
    fn rfc3339_accepts_offsets() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(parse_rfc3339("1970-01-01T01:00:01+01:00"), Some(1000));
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59Z"), None);
        assert_eq!(format_rfc3339(1000), "1970-01-01T00:00:01.000Z");
    }
}
