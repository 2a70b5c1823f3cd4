//! iCal date and time values, and the arithmetic recurrence needs.

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// A DTSTART, DTEND, EXDATE, RDATE or RECURRENCE-ID value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Time {
    Utc(DateTime<Utc>),
    Zoned(NaiveDateTime, Tz),
    /// No zone given: read as UTC (a server has no local zone to read it in).
    Floating(NaiveDateTime),
    /// An all-day value: midnight UTC.
    Date(NaiveDate),
}

/// The zone a series' wall-clock arithmetic happens in.
pub fn zone_of(time: &Time) -> Tz {
    match time {
        Time::Zoned(_, tz) => *tz,
        _ => Tz::UTC,
    }
}

/// The wall-clock value of `time` in `zone`.
pub fn local_in(time: &Time, zone: Tz) -> NaiveDateTime {
    instant(time).with_timezone(&zone).naive_local()
}

pub fn instant(time: &Time) -> DateTime<Utc> {
    match time {
        Time::Utc(at) => *at,
        Time::Zoned(naive, tz) => resolve(*naive, *tz),
        Time::Floating(naive) => Utc.from_utc_datetime(naive),
        Time::Date(date) => Utc.from_utc_datetime(&date.and_time(NaiveTime::MIN)),
    }
}

/// A wall-clock time in `zone` as an instant: the earlier of two in an autumn overlap,
/// and moved past the gap in a spring change (as calendar apps do).
pub fn resolve(naive: NaiveDateTime, zone: Tz) -> DateTime<Utc> {
    match zone.from_local_datetime(&naive) {
        LocalResult::Single(at) => at.with_timezone(&Utc),
        LocalResult::Ambiguous(earlier, _) => earlier.with_timezone(&Utc),
        LocalResult::None => {
            let later = naive + Duration::hours(1);
            match zone.from_local_datetime(&later) {
                LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => at.with_timezone(&Utc),
                LocalResult::None => Utc.from_utc_datetime(&naive),
            }
        }
    }
}

/// How long each occurrence lasts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Length {
    /// From DTEND: the same wall-clock length in the series' zone for every instance.
    WallClock(Duration),
    /// From DURATION: days and weeks are nominal (same local time), the rest exact.
    Nominal { days: i64, exact: Duration },
}

impl Length {
    pub fn end(&self, start_local: NaiveDateTime, zone: Tz) -> DateTime<Utc> {
        match self {
            Length::WallClock(length) => resolve(start_local + *length, zone),
            Length::Nominal { days, exact } => {
                resolve(start_local + Duration::days(*days), zone) + *exact
            }
        }
    }

    /// An upper bound of the length, for choosing how far back to expand.
    pub fn at_most(&self) -> Duration {
        match self {
            Length::WallClock(length) => *length + Duration::hours(2),
            Length::Nominal { days, exact } => Duration::days(*days) + *exact + Duration::hours(2),
        }
    }
}

/// `P1D`, `PT8H`, `P1W`, `P1DT2H30M`, with an optional sign.
pub fn parse_duration(text: &str) -> Option<Length> {
    let text = text.trim();
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let rest = rest.strip_prefix('P')?;
    let (date_part, time_part) = match rest.split_once('T') {
        Some((date, time)) => (date, Some(time)),
        None => (rest, None),
    };
    let mut days = 0i64;
    let mut exact = Duration::zero();
    let mut number = String::new();
    for ch in date_part.chars() {
        match ch {
            '0'..='9' => number.push(ch),
            'W' => days += 7 * std::mem::take(&mut number).parse::<i64>().ok()?,
            'D' => days += std::mem::take(&mut number).parse::<i64>().ok()?,
            _ => return None,
        }
    }
    for ch in time_part.unwrap_or("").chars() {
        match ch {
            '0'..='9' => number.push(ch),
            'H' => exact += Duration::hours(std::mem::take(&mut number).parse().ok()?),
            'M' => exact += Duration::minutes(std::mem::take(&mut number).parse().ok()?),
            'S' => exact += Duration::seconds(std::mem::take(&mut number).parse().ok()?),
            _ => return None,
        }
    }
    if !number.is_empty() {
        return None;
    }
    if negative {
        days = -days;
        exact = -exact;
    }
    Some(Length::Nominal { days, exact })
}

/// Parses a DATE-TIME or DATE value given its TZID / VALUE parameters.
pub fn parse_time(value: &str, tzid: Option<&str>, is_date: bool) -> Result<Time, String> {
    let value = value.trim();
    if is_date || value.len() == 8 {
        return NaiveDate::parse_from_str(value, "%Y%m%d")
            .map(Time::Date)
            .map_err(|_| format!("{value:?} is not a date"));
    }
    if let Some(utc) = value.strip_suffix('Z') {
        return NaiveDateTime::parse_from_str(utc, "%Y%m%dT%H%M%S")
            .map(|naive| Time::Utc(Utc.from_utc_datetime(&naive)))
            .map_err(|_| format!("{value:?} is not a date-time"));
    }
    let naive = NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%S")
        .map_err(|_| format!("{value:?} is not a date-time"))?;
    match tzid {
        Some(name) => Ok(Time::Zoned(naive, zone_named(name)?)),
        None => Ok(Time::Floating(naive)),
    }
}

/// An IANA zone name, also when written as a path (`/mozilla.org/.../Europe/Berlin`) or
/// quoted, as some calendar programs do.
pub fn zone_named(name: &str) -> Result<Tz, String> {
    let name = name.trim().trim_matches('"');
    if let Ok(tz) = name.parse::<Tz>() {
        return Ok(tz);
    }
    let segments: Vec<&str> = name.split('/').filter(|s| !s.is_empty()).collect();
    for start in 0..segments.len() {
        if let Ok(tz) = segments[start..].join("/").parse::<Tz>() {
            return Ok(tz);
        }
    }
    Err(format!("unknown time zone {name:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_nominal_days_and_exact_hours() {
        assert_eq!(
            parse_duration("P1D"),
            Some(Length::Nominal {
                days: 1,
                exact: Duration::zero()
            })
        );
        assert_eq!(
            parse_duration("P1W"),
            Some(Length::Nominal {
                days: 7,
                exact: Duration::zero()
            })
        );
        assert_eq!(
            parse_duration("PT8H30M"),
            Some(Length::Nominal {
                days: 0,
                exact: Duration::minutes(510)
            })
        );
        assert_eq!(
            parse_duration("P1DT2H"),
            Some(Length::Nominal {
                days: 1,
                exact: Duration::hours(2)
            })
        );
        assert_eq!(parse_duration("8H"), None);
    }

    #[test]
    fn a_spring_gap_moves_forward_and_an_autumn_overlap_takes_the_earlier() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let gap = NaiveDate::from_ymd_opt(2026, 3, 29)
            .unwrap()
            .and_hms_opt(2, 30, 0)
            .unwrap();
        assert_eq!(
            resolve(gap, berlin).to_rfc3339(),
            "2026-03-29T01:30:00+00:00"
        );
        let overlap = NaiveDate::from_ymd_opt(2026, 10, 25)
            .unwrap()
            .and_hms_opt(2, 30, 0)
            .unwrap();
        assert_eq!(
            resolve(overlap, berlin).to_rfc3339(),
            "2026-10-25T00:30:00+00:00"
        );
    }

    #[test]
    fn zone_names_in_paths_are_found() {
        assert!(zone_named("/mozilla.org/20050126_1/Europe/Berlin").is_ok());
        assert!(zone_named("\"America/New_York\"").is_ok());
        assert!(zone_named("W. Europe Standard Time").is_err());
    }
}
