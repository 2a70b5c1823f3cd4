//! Reading an iCal file (with the `icalendar` crate's parser) into events.

use icalendar::parser::{read_calendar, unfold, Component, Property};

use super::time::{parse_duration, parse_time, zone_named, Length, Time};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CalendarError {
    #[error("the file is empty")]
    Empty,
    #[error("not an iCal file: {0}")]
    Syntax(String),
    #[error("no VCALENDAR in the file")]
    NoCalendar,
}

/// One VEVENT, as written (not yet expanded).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub uid: String,
    pub summary: String,
    /// Who is on call: the SUMMARY's username (see [`person_and_layer`]).
    pub person: String,
    /// The `[L<n>]` layer of exports from OnCall before v1.2.16, which left the layers
    /// unresolved; a higher layer hides the lower ones while it has someone on call.
    pub layer: Option<u32>,
    pub start: Time,
    pub end: Option<Time>,
    pub duration: Option<Length>,
    pub rrules: Vec<String>,
    pub exdates: Vec<Time>,
    pub rdates: Vec<Time>,
    pub recurrence_id: Option<Time>,
    pub cancelled: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Calendar {
    /// `X-WR-CALNAME`, unescaped.
    pub name: Option<String>,
    pub events: Vec<Event>,
    /// Events that could not be read, with why; the rest of the file still counts.
    pub skipped: Vec<String>,
    /// Events whose time zone nothing resolves, each naming the TZID and the event.
    /// Unlike a skipped event, this makes the whole answer unknown: a shift in an
    /// unknown zone could be anyone's now, so "nobody on call" would be a guess.
    pub unresolved_zones: Vec<String>,
}

impl Calendar {
    /// Why who is on call cannot be told from this file: its events in zones nothing
    /// resolves. `None` when every event's zone is known.
    pub fn zone_error(&self) -> Option<String> {
        (!self.unresolved_zones.is_empty()).then(|| self.unresolved_zones.join("; "))
    }
}

/// Why an event could not be read.
enum EventError {
    /// Its TZID is not an IANA name, and neither the feed's VTIMEZONE nor the CLDR list
    /// of Windows zone names says which zone it is.
    Zone(String),
    Other(String),
}

impl From<String> for EventError {
    fn from(reason: String) -> Self {
        EventError::Other(reason)
    }
}

impl From<&str> for EventError {
    fn from(reason: &str) -> Self {
        EventError::Other(reason.to_owned())
    }
}

/// The username in a SUMMARY, and its layer if it has one: OnCall's schedule exports
/// say `alice`, its per-user exports `Primary: alice`, and servers before v1.2.16
/// `[L1] alice` (layer 1).
pub fn person_and_layer(summary: &str) -> (String, Option<u32>) {
    let after_colon = summary.rsplit_once(": ").map_or(summary, |(_, name)| name);
    let trimmed = after_colon.trim();
    let layered = trimmed
        .strip_prefix("[L")
        .and_then(|rest| rest.split_once("] "))
        .filter(|(digits, _)| digits.chars().all(|c| c.is_ascii_digit()));
    match layered {
        Some((digits, name)) => (name.trim().to_owned(), digits.parse().ok()),
        None => (trimmed.to_owned(), None),
    }
}

fn param<'a>(property: &'a Property<'a>, key: &str) -> Option<&'a str> {
    property
        .params
        .iter()
        .find(|p| p.key.as_str().eq_ignore_ascii_case(key))
        .and_then(|p| p.val.as_ref())
        .map(|v| v.as_str())
}

fn props<'a>(
    component: &'a Component<'a>,
    name: &'a str,
) -> impl Iterator<Item = &'a Property<'a>> {
    component
        .properties
        .iter()
        .filter(move |p| p.name.as_str().eq_ignore_ascii_case(name))
}

fn text(component: &Component<'_>, name: &str) -> Option<String> {
    props(component, name)
        .next()
        .map(|p| p.val.clone().unescape_text().as_str().to_owned())
}

/// Maps TZIDs defined by a VTIMEZONE to an IANA zone when the name itself is not one:
/// by its `X-LIC-LOCATION` (`W. Europe Standard Time` → `Europe/Berlin`), else, for a
/// zone with one fixed offset (a STANDARD and no DAYLIGHT), the `Etc/GMT` zone of that
/// offset, else the IANA zone its daylight-saving rules agree with (see `vtimezone`).
fn zone_aliases(components: &[Component<'_>]) -> Vec<(String, String)> {
    components
        .iter()
        .filter(|c| c.name.as_str().eq_ignore_ascii_case("VTIMEZONE"))
        .filter_map(|c| {
            let tzid = text(c, "TZID")?;
            let location = text(c, "X-LIC-LOCATION")
                .filter(|location| zone_named(location).is_ok())
                .or_else(|| fixed_offset_zone(c))
                .or_else(|| zone_by_rules(c))?;
            Some((tzid, location))
        })
        .collect()
}

/// `Etc/GMT-3` for a VTIMEZONE whose only rule is a STANDARD with `TZOFFSETTO:+0300`
/// (the `Etc` zones' signs are inverted, as POSIX has them).
fn fixed_offset_zone(vtimezone: &Component<'_>) -> Option<String> {
    let rules: Vec<&Component<'_>> = vtimezone.components.iter().collect();
    let daylight = rules
        .iter()
        .any(|rule| rule.name.as_str().eq_ignore_ascii_case("DAYLIGHT"));
    let standard: Vec<&&Component<'_>> = rules
        .iter()
        .filter(|rule| rule.name.as_str().eq_ignore_ascii_case("STANDARD"))
        .collect();
    if daylight || standard.len() != 1 {
        return None;
    }
    let seconds = super::vtimezone::parse_offset(&text(standard[0], "TZOFFSETTO")?)?;
    if seconds % 3600 != 0 {
        return None;
    }
    Some(match seconds / 3600 {
        0 => "Etc/UTC".to_owned(),
        east if east > 0 => format!("Etc/GMT-{east}"),
        west => format!("Etc/GMT+{}", -west),
    })
}

/// A VTIMEZONE with a STANDARD and a DAYLIGHT rule, matched to a zone by them.
fn zone_by_rules(vtimezone: &Component<'_>) -> Option<String> {
    let observances: Option<Vec<_>> = vtimezone
        .components
        .iter()
        .map(|rule| {
            super::vtimezone::observance(
                &text(rule, "DTSTART")?,
                &text(rule, "RRULE")?,
                &text(rule, "TZOFFSETFROM")?,
                &text(rule, "TZOFFSETTO")?,
            )
        })
        .collect();
    super::vtimezone::matching_zone(&observances?).map(|zone| zone.name().to_owned())
}

/// The IANA zone for `tzid`: the name itself (IANA, or written as a path), then the
/// feed's own definition, then CLDR's list of Windows zone names (Outlook and
/// Exchange write `W. Europe Standard Time`), world-wide default territory.
fn resolve_zone(tzid: &str, aliases: &[(String, String)]) -> Option<String> {
    let tzid = tzid.trim().trim_matches('"');
    // A real zone name wins over a feed's own (possibly trimmed) rules for it.
    if zone_named(tzid).is_ok() {
        return Some(tzid.to_owned());
    }
    if let Some((_, iana)) = aliases.iter().find(|(alias, _)| alias == tzid) {
        return Some(iana.clone());
    }
    localzone::win_zone_to_iana(tzid, Some("001"))
        .filter(|iana| zone_named(iana).is_ok())
        .map(str::to_owned)
}

fn time_of(
    property: &Property<'_>,
    aliases: &[(String, String)],
    value: &str,
) -> Result<Time, EventError> {
    let tzid = match param(property, "TZID") {
        Some(tzid) => Some(resolve_zone(tzid, aliases).ok_or_else(|| {
            EventError::Zone(format!(
                "time zone {:?} is not an IANA name, and neither the feed's VTIMEZONE nor the Windows zone names say which zone it is",
                tzid.trim_matches('"')
            ))
        })?),
        None => None,
    };
    let is_date = param(property, "VALUE").is_some_and(|v| v.eq_ignore_ascii_case("DATE"));
    Ok(parse_time(value, tzid.as_deref(), is_date)?)
}

fn times(
    component: &Component<'_>,
    name: &str,
    aliases: &[(String, String)],
) -> Result<Vec<Time>, EventError> {
    let mut out = Vec::new();
    for property in props(component, name) {
        if param(property, "VALUE").is_some_and(|v| v.eq_ignore_ascii_case("PERIOD")) {
            return Err(format!("{name} with VALUE=PERIOD is not supported").into());
        }
        for value in property
            .val
            .as_str()
            .split(',')
            .filter(|v| !v.trim().is_empty())
        {
            out.push(time_of(property, aliases, value)?);
        }
    }
    Ok(out)
}

fn one_time(
    component: &Component<'_>,
    name: &str,
    aliases: &[(String, String)],
) -> Result<Option<Time>, EventError> {
    match props(component, name).next() {
        Some(property) => time_of(property, aliases, property.val.as_str()).map(Some),
        None => Ok(None),
    }
}

fn event(component: &Component<'_>, aliases: &[(String, String)]) -> Result<Event, EventError> {
    let summary = text(component, "SUMMARY").unwrap_or_default();
    let (person, layer) = person_and_layer(&summary);
    let start = one_time(component, "DTSTART", aliases)?.ok_or("no DTSTART")?;
    let duration = match text(component, "DURATION") {
        Some(value) => Some(parse_duration(&value).ok_or(format!("bad DURATION {value:?}"))?),
        None => None,
    };
    Ok(Event {
        uid: text(component, "UID").unwrap_or_default(),
        person,
        layer,
        summary,
        start,
        end: one_time(component, "DTEND", aliases)?,
        duration,
        rrules: props(component, "RRULE")
            .map(|p| p.val.as_str().to_owned())
            .collect(),
        exdates: times(component, "EXDATE", aliases)?,
        rdates: times(component, "RDATE", aliases)?,
        recurrence_id: one_time(component, "RECURRENCE-ID", aliases)?,
        cancelled: text(component, "STATUS")
            .is_some_and(|s| s.trim().eq_ignore_ascii_case("CANCELLED")),
    })
}

/// Parses a whole file. Events that cannot be read are listed in `skipped`; a file that
/// is not iCal at all is an error, so a broken download never reads as "nobody on call".
pub fn parse(text_in: &str) -> Result<Calendar, CalendarError> {
    let text_in = text_in.trim_start_matches('\u{feff}');
    if text_in.trim().is_empty() {
        return Err(CalendarError::Empty);
    }
    let unfolded = unfold(&text_in.replace("\r\n", "\n"));
    let parsed = read_calendar(&unfolded)
        .map_err(|err| CalendarError::Syntax(err.lines().next().unwrap_or("").to_owned()))?;
    let is_calendar = unfolded
        .trim_start()
        .to_ascii_uppercase()
        .starts_with("BEGIN:VCALENDAR");
    if !is_calendar {
        return Err(CalendarError::NoCalendar);
    }
    let name = parsed
        .properties
        .iter()
        .find(|p| p.name.as_str().eq_ignore_ascii_case("X-WR-CALNAME"))
        .map(|p| p.val.clone().unescape_text().as_str().to_owned());
    let aliases = zone_aliases(&parsed.components);
    let mut calendar = Calendar {
        name,
        ..Calendar::default()
    };
    for component in parsed
        .components
        .iter()
        .filter(|c| c.name.as_str().eq_ignore_ascii_case("VEVENT"))
    {
        let uid = || text(component, "UID").unwrap_or_default();
        match event(component, &aliases) {
            Ok(event) => calendar.events.push(event),
            Err(EventError::Zone(reason)) => calendar
                .unresolved_zones
                .push(format!("event {:?}: {reason}", uid())),
            Err(EventError::Other(reason)) => calendar
                .skipped
                .push(format!("event {:?}: {reason}", uid())),
        }
    }
    Ok(calendar)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_come_out_of_every_summary_style() {
        assert_eq!(person_and_layer("alice").0, "alice");
        assert_eq!(person_and_layer("Primary: alice").0, "alice");
        assert_eq!(person_and_layer("Team: DB, nights: bob").0, "bob");
        assert_eq!(person_and_layer("[L1] carol").0, "carol");
        assert_eq!(person_and_layer("[L12] carol").1, Some(12));
        assert_eq!(person_and_layer("carol").1, None);
        assert_eq!(person_and_layer("[Lx] carol").1, None);
        assert_eq!(person_and_layer(" dave ").0, "dave");
    }

    #[test]
    fn junk_and_empty_files_are_errors_not_empty_calendars() {
        assert_eq!(parse("").unwrap_err(), CalendarError::Empty);
        assert!(parse("<html>502 Bad Gateway</html>").is_err());
        assert!(parse("{\"detail\": \"Invalid token.\"}").is_err());
    }
}
