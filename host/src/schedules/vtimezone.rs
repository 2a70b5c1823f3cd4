//! A VTIMEZONE known only by its rules (Outlook's "Customized Time Zone"): the IANA zone
//! whose UTC offsets agree with those rules around every transition of the years about
//! now. Outlook writes each rule as `FREQ=YEARLY;BYMONTH=m;BYDAY=nDD` (the n-th, or
//! last, weekday of a month), the only shape read here; anything else is not matched.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

/// One STANDARD or DAYLIGHT rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observance {
    /// UTC offsets in seconds, before and after the change.
    pub offset_from: i32,
    pub offset_to: i32,
    /// The change's wall-clock time (of the old offset), from DTSTART.
    pub at: chrono::NaiveTime,
    /// Month, and which of its given weekdays: 1..=5, or -1 for the last.
    pub month: u32,
    pub nth: i32,
    pub weekday: Weekday,
}

/// `+0100`, `-0530` → seconds east of UTC.
pub fn parse_offset(text: &str) -> Option<i32> {
    let text = text.trim();
    let sign = match text.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits = &text[1..];
    if digits.len() < 4 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let hours: i32 = digits[..2].parse().ok()?;
    let minutes: i32 = digits[2..4].parse().ok()?;
    (hours <= 14 && minutes < 60).then_some(sign * (hours * 3600 + minutes * 60))
}

fn weekday(code: &str) -> Option<Weekday> {
    Some(match code {
        "MO" => Weekday::Mon,
        "TU" => Weekday::Tue,
        "WE" => Weekday::Wed,
        "TH" => Weekday::Thu,
        "FR" => Weekday::Fri,
        "SA" => Weekday::Sat,
        "SU" => Weekday::Sun,
        _ => return None,
    })
}

/// An observance from its DTSTART, RRULE and offsets, if the RRULE has Outlook's shape.
pub fn observance(
    dtstart: &str,
    rrule: &str,
    offset_from: &str,
    offset_to: &str,
) -> Option<Observance> {
    let start = NaiveDateTime::parse_from_str(dtstart.trim(), "%Y%m%dT%H%M%S").ok()?;
    let (mut frequency, mut month, mut by_day) = (None, None, None);
    for part in rrule.trim().split(';') {
        let (key, value) = part.split_once('=')?;
        match key.trim().to_ascii_uppercase().as_str() {
            "FREQ" => frequency = Some(value.trim().to_ascii_uppercase()),
            "BYMONTH" => month = value.trim().parse::<u32>().ok(),
            "BYDAY" => by_day = Some(value.trim().to_ascii_uppercase()),
            // UNTIL/COUNT bound rules of past years; the current rule has none.
            _ => return None,
        }
    }
    if frequency.as_deref() != Some("YEARLY") {
        return None;
    }
    let month = month.filter(|m| (1..=12).contains(m))?;
    let by_day = by_day?;
    let split = by_day.len().checked_sub(2)?;
    let (nth, day) = by_day.split_at(split);
    let nth: i32 = nth.parse().ok()?;
    if !(nth == -1 || (1..=5).contains(&nth)) {
        return None;
    }
    Some(Observance {
        offset_from: parse_offset(offset_from)?,
        offset_to: parse_offset(offset_to)?,
        at: start.time(),
        month,
        nth,
        weekday: weekday(day)?,
    })
}

/// The date of the observance's change in `year`.
fn date_in(observance: &Observance, year: i32) -> Option<NaiveDate> {
    if observance.nth == -1 {
        let next_month = if observance.month == 12 {
            NaiveDate::from_ymd_opt(year + 1, 1, 1)?
        } else {
            NaiveDate::from_ymd_opt(year, observance.month + 1, 1)?
        };
        let mut day = next_month.pred_opt()?;
        while day.weekday() != observance.weekday {
            day = day.pred_opt()?;
        }
        return Some(day);
    }
    let nth = u8::try_from(observance.nth).ok()?;
    NaiveDate::from_weekday_of_month_opt(year, observance.month, observance.weekday, nth).or_else(
        // A fifth weekday that a month lacks means its last, as Windows reads it.
        || {
            date_in(
                &Observance {
                    nth: -1,
                    ..observance.clone()
                },
                year,
            )
        },
    )
}

/// Every change in `years`, as (UTC instant, offset after it), in order.
fn transitions(
    observances: &[Observance],
    years: std::ops::RangeInclusive<i32>,
) -> Vec<(chrono::DateTime<Utc>, i32)> {
    let mut changes: Vec<(chrono::DateTime<Utc>, i32)> = years
        .flat_map(|year| {
            observances.iter().filter_map(move |observance| {
                let local = date_in(observance, year)?.and_time(observance.at);
                let utc = local - Duration::seconds(i64::from(observance.offset_from));
                Some((Utc.from_utc_datetime(&utc), observance.offset_to))
            })
        })
        .collect();
    changes.sort_by_key(|(at, _)| *at);
    changes
}

/// The IANA zone whose offsets agree with `observances` around each change of the
/// years about now (an hour before and after each, and between them). Where several
/// agree, the world-wide default of a Windows zone name comes first, then the name
/// that sorts first, so the answer is the same on every replica.
pub fn matching_zone(observances: &[Observance]) -> Option<Tz> {
    if observances.len() != 2 {
        return None;
    }
    let year = Utc::now().year();
    // A zone that has kept these rules for a decade first: of zones that agree today,
    // it is the one the feed most likely means (America/New_York, not a zone that
    // joined its rules lately). Any of them gives the same answers for now.
    zone_agreeing(observances, year - 10..=year + 1)
        .or_else(|| zone_agreeing(observances, year - 1..=year + 1))
}

fn zone_agreeing(observances: &[Observance], years: std::ops::RangeInclusive<i32>) -> Option<Tz> {
    let changes = transitions(observances, years);
    if changes.len() < 4 {
        return None;
    }
    let mut samples = Vec::new();
    for pair in changes.windows(2) {
        let (start, offset) = pair[0];
        let (end, _) = pair[1];
        samples.push((start + Duration::hours(1), offset));
        samples.push((start + (end - start) / 2, offset));
        samples.push((end - Duration::hours(1), offset));
    }
    let agrees = |zone: &Tz| {
        samples.iter().all(|(instant, offset)| {
            zone.offset_from_utc_datetime(&instant.naive_utc())
                .fix()
                .local_minus_utc()
                == *offset
        })
    };
    let mut found: Vec<Tz> = chrono_tz::TZ_VARIANTS
        .iter()
        .filter(|zone| agrees(zone))
        .copied()
        .collect();
    found.sort_by_key(|zone| {
        let default = localzone::iana_to_win_zone(zone.name())
            .is_some_and(|(_, territory)| territory == "001");
        (!default, zone.name())
    });
    found.into_iter().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(
        standard: (&str, &str, &str, &str),
        daylight: (&str, &str, &str, &str),
    ) -> Vec<Observance> {
        [standard, daylight]
            .into_iter()
            .map(|(start, rule, from, to)| {
                observance(start, rule, from, to).expect("Outlook shape")
            })
            .collect()
    }

    /// Whether `zone` and `expected` keep the same offsets at every hour of this year.
    fn same_offsets_this_year(zone: Tz, expected: Tz) -> bool {
        let year = Utc::now().year();
        let start = Utc.with_ymd_and_hms(year, 1, 1, 0, 0, 0).unwrap();
        (0..365 * 24).all(|hour| {
            let at = (start + Duration::hours(hour)).naive_utc();
            zone.offset_from_utc_datetime(&at).fix() == expected.offset_from_utc_datetime(&at).fix()
        })
    }

    #[test]
    fn us_eastern_rules_match_new_york_time() {
        let eastern = rules(
            (
                "16011104T020000",
                "FREQ=YEARLY;BYDAY=1SU;BYMONTH=11",
                "-0400",
                "-0500",
            ),
            (
                "16010311T020000",
                "FREQ=YEARLY;BYDAY=2SU;BYMONTH=3",
                "-0500",
                "-0400",
            ),
        );
        let zone = matching_zone(&eastern).expect("a zone");
        assert!(
            same_offsets_this_year(zone, chrono_tz::America::New_York),
            "{zone}"
        );
    }

    #[test]
    fn central_european_rules_match_berlin_time() {
        let central = rules(
            (
                "16011028T030000",
                "FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10",
                "+0200",
                "+0100",
            ),
            (
                "16010325T020000",
                "FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3",
                "+0100",
                "+0200",
            ),
        );
        let zone = matching_zone(&central).expect("a zone");
        assert!(
            same_offsets_this_year(zone, chrono_tz::Europe::Berlin),
            "{zone}"
        );
    }

    #[test]
    fn rules_no_zone_follows_match_nothing() {
        let odd = rules(
            (
                "16011028T030000",
                "FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10",
                "+0245",
                "+0145",
            ),
            (
                "16010325T020000",
                "FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3",
                "+0145",
                "+0245",
            ),
        );
        assert_eq!(matching_zone(&odd), None);
        assert_eq!(
            observance(
                "16010101T000000",
                "FREQ=MONTHLY;BYDAY=1SU;BYMONTH=3",
                "+0100",
                "+0200"
            ),
            None
        );
    }
}
