//! Expanding events into occurrences, and who is on call at an instant.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use rrule::{RRule, Unvalidated};

use super::calendar::{Calendar, Event};
use super::time::{instant, local_in, resolve, zone_of, Length, Time};

/// One stretch of duty: `person` is on call for `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Occurrence {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub person: String,
    /// Set only before [`resolve_layers`] (old OnCall exports).
    pub layer: Option<u32>,
}

/// How long an event lasts: DTEND as the same wall-clock length, else DURATION, else one
/// day for an all-day start and nothing for a date-time start (RFC 5545 §3.6.1).
fn length(event: &Event) -> Length {
    let zone = zone_of(&event.start);
    if let Some(end) = &event.end {
        return Length::WallClock(local_in(end, zone) - local_in(&event.start, zone));
    }
    if let Some(duration) = event.duration {
        return duration;
    }
    match event.start {
        Time::Date(_) => Length::Nominal {
            days: 1,
            exact: Duration::zero(),
        },
        _ => Length::WallClock(Duration::zero()),
    }
}

/// RFC 5545 wants UNTIL in UTC when DTSTART has a zone; feeds in the wild also write a
/// date or a local time. Both are read in the series' zone and rewritten as UTC.
fn normalized_rrule(rule: &str, event: &Event) -> String {
    let zone = zone_of(&event.start);
    rule.split(';')
        .map(|part| {
            let Some(value) = part.strip_prefix("UNTIL=") else {
                return part.to_owned();
            };
            let until = if value.len() == 8 {
                // A DATE until is inclusive of that whole day.
                chrono::NaiveDate::parse_from_str(value, "%Y%m%d")
                    .ok()
                    .and_then(|date| date.and_hms_opt(23, 59, 59))
                    .map(|naive| resolve(naive, zone))
            } else if !value.ends_with('Z') {
                chrono::NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%S")
                    .ok()
                    .map(|naive| resolve(naive, zone))
            } else {
                None
            };
            match until {
                Some(until) => format!("UNTIL={}", until.format("%Y%m%dT%H%M%SZ")),
                None => part.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join(";")
}

/// Start instants of a recurring series within `[from, to)`.
fn series_starts(
    event: &Event,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<DateTime<Utc>>, String> {
    let zone = zone_of(&event.start);
    let rrule_zone = rrule::Tz::Tz(zone);
    let dt_start = resolve(local_in(&event.start, zone), zone).with_timezone(&rrule_zone);
    let mut starts = Vec::new();
    for rule in &event.rrules {
        let parsed: RRule<Unvalidated> = normalized_rrule(rule, event)
            .parse()
            .map_err(|err| format!("bad RRULE {rule:?}: {err}"))?;
        let mut set = parsed
            .build(dt_start)
            .map_err(|err| format!("bad RRULE {rule:?}: {err}"))?;
        for exdate in &event.exdates {
            set = set.exdate(instant(exdate).with_timezone(&rrule_zone));
        }
        let result = set
            .after((from - Duration::seconds(1)).with_timezone(&rrule_zone))
            .before(to.with_timezone(&rrule_zone))
            .all(u16::MAX);
        starts.extend(result.dates.iter().map(|at| at.with_timezone(&Utc)));
    }
    let excluded: Vec<DateTime<Utc>> = event.exdates.iter().map(instant).collect();
    for rdate in &event.rdates {
        let at = instant(rdate);
        if at >= from && at < to && !excluded.contains(&at) {
            starts.push(at);
        }
    }
    starts.sort();
    starts.dedup();
    Ok(starts)
}

/// Every occurrence overlapping `[from, to)`, with cancelled events, EXDATEs and
/// RECURRENCE-ID overrides applied. Errors name the event that could not be expanded.
pub fn occurrences(
    calendar: &Calendar,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> (Vec<Occurrence>, Vec<String>) {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let overrides: Vec<&Event> = calendar
        .events
        .iter()
        .filter(|e| e.recurrence_id.is_some())
        .collect();
    for event in calendar
        .events
        .iter()
        .filter(|e| e.recurrence_id.is_none() && !e.cancelled)
    {
        let span = length(event);
        let zone = zone_of(&event.start);
        if event.rrules.is_empty() && event.rdates.is_empty() {
            let start = instant(&event.start);
            let end = span.end(local_in(&event.start, zone), zone);
            if start < to && end > from && end > start {
                out.push(Occurrence {
                    start,
                    end,
                    person: event.person.clone(),
                    layer: event.layer,
                });
            }
            continue;
        }
        let mut starts = vec![instant(&event.start)];
        match series_starts(event, from - span.at_most(), to) {
            Ok(more) => starts.extend(more),
            Err(err) => {
                errors.push(format!("event {:?}: {err}", event.uid));
                continue;
            }
        }
        starts.sort();
        starts.dedup();
        for start in starts {
            let local = start.with_timezone(&zone).naive_local();
            // A RECURRENCE-ID instance replaces the occurrence it names.
            let replaced = overrides.iter().find(|o| {
                o.uid == event.uid
                    && o.recurrence_id
                        .as_ref()
                        .is_some_and(|rid| local_in(rid, zone) == local)
            });
            let occurrence = match replaced {
                Some(instance) if instance.cancelled => continue,
                Some(instance) => {
                    let instance_zone = zone_of(&instance.start);
                    Occurrence {
                        start: instant(&instance.start),
                        end: length(instance)
                            .end(local_in(&instance.start, instance_zone), instance_zone),
                        person: instance.person.clone(),
                        layer: instance.layer,
                    }
                }
                None => Occurrence {
                    start,
                    end: span.end(local, zone),
                    person: event.person.clone(),
                    layer: event.layer,
                },
            };
            if occurrence.start < to && occurrence.end > from && occurrence.end > occurrence.start {
                out.push(occurrence);
            }
        }
    }
    out.sort();
    out.dedup();
    (resolve_layers(out), errors)
}

/// The final schedule of a layered export: at every instant only the highest layer
/// with someone on call counts (events without a layer always count), as OnCall itself
/// resolves layers. The result is cut into pieces where the on-call set changes, with
/// each person's contiguous pieces merged, so a person's shift starts where they
/// really come on duty. Unlayered calendars pass through unchanged.
pub fn resolve_layers(occurrences: Vec<Occurrence>) -> Vec<Occurrence> {
    if occurrences.iter().all(|o| o.layer.is_none()) {
        return occurrences;
    }
    let mut bounds: Vec<DateTime<Utc>> =
        occurrences.iter().flat_map(|o| [o.start, o.end]).collect();
    bounds.sort();
    bounds.dedup();
    let mut resolved: Vec<Occurrence> = Vec::new();
    for window in bounds.windows(2) {
        let (from, to) = (window[0], window[1]);
        let active: Vec<&Occurrence> = occurrences
            .iter()
            .filter(|o| o.start <= from && from < o.end)
            .collect();
        let top = active.iter().filter_map(|o| o.layer).max();
        let people: BTreeSet<&str> = active
            .iter()
            .filter(|o| o.layer.is_none() || o.layer == top)
            .map(|o| o.person.as_str())
            .collect();
        for person in people {
            match resolved
                .iter_mut()
                .rev()
                .find(|piece| piece.person == person && piece.end == from)
            {
                Some(piece) => piece.end = to,
                None => resolved.push(Occurrence {
                    start: from,
                    end: to,
                    person: person.to_owned(),
                    layer: None,
                }),
            }
        }
    }
    resolved.sort();
    resolved
}

/// Who is on call at `at`: every person with an occurrence covering it (half-open),
/// sorted, each once.
pub fn on_call_at(occurrences: &[Occurrence], at: DateTime<Utc>) -> Vec<String> {
    let names: BTreeSet<&str> = occurrences
        .iter()
        .filter(|o| o.start <= at && at < o.end && !o.person.is_empty())
        .map(|o| o.person.as_str())
        .collect();
    names.into_iter().map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// A pre-v1.2.16 export: raw recurring layers. Layer 1 is alice around the clock,
    /// layer 2 (which wins) bob on weekdays 09:00-17:00 UTC.
    const LAYERED: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Grafana Labs//Grafana On-Call//\r\n\
BEGIN:VEVENT\r\nSUMMARY:[L1] alice\r\nUID:oncall-a-PK1-U1-E1-S0\r\nDTSTART:20260302T000000Z\r\nDTEND:20260303T000000Z\r\nRRULE:FREQ=DAILY\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nSUMMARY:[L2] bob\r\nUID:oncall-b-PK2-U2-E1-S0\r\nDTSTART:20260302T090000Z\r\nDTEND:20260302T170000Z\r\nRRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR\r\nEND:VEVENT\r\n\
END:VCALENDAR\r\n";

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, day, hour, 30, 0).unwrap()
    }

    #[test]
    fn a_higher_layer_hides_the_lower_one_while_it_has_someone() {
        let calendar = crate::schedules::parse(LAYERED).unwrap();
        let (shifts, errors) = occurrences(&calendar, at(2, 0), at(9, 0));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(on_call_at(&shifts, at(3, 10)), vec!["bob"]); // Tuesday, business hours
        assert_eq!(on_call_at(&shifts, at(3, 18)), vec!["alice"]);
        assert_eq!(on_call_at(&shifts, at(7, 10)), vec!["alice"]); // Saturday
                                                                   // alice's weekday stretches start at 17:00, each on its own instant, so each is
                                                                   // announced as its own shift.
        let alice_starts: Vec<DateTime<Utc>> = shifts
            .iter()
            .filter(|o| o.person == "alice")
            .map(|o| o.start)
            .collect();
        assert!(alice_starts.contains(&Utc.with_ymd_and_hms(2026, 3, 3, 17, 0, 0).unwrap()));
        assert!(alice_starts.contains(&Utc.with_ymd_and_hms(2026, 3, 4, 17, 0, 0).unwrap()));
        assert!(shifts.iter().all(|o| o.layer.is_none()));
    }

    #[test]
    fn unlayered_calendars_are_left_as_they_are() {
        let occurrence = |person: &str, from: u32, to: u32| Occurrence {
            start: at(2, from),
            end: at(2, to),
            person: person.to_owned(),
            layer: None,
        };
        let both = vec![occurrence("alice", 1, 5), occurrence("bob", 3, 7)];
        assert_eq!(resolve_layers(both.clone()), both);
    }
}
