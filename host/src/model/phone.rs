//! Phone numbers: checked against real numbering plans (libphonenumber's metadata,
//! through the `phonenumber` crate), stored in E.164, and shown masked everywhere but
//! where a person types one.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("a phone number must start with + and the country code, e.g. +4915112345678")]
    NoCountryCode,
    #[error("a phone number may only contain digits, spaces, dots, dashes, slashes and brackets")]
    BadCharacter,
    #[error("not a phone number in any country's numbering plan")]
    NotInNumberingPlan,
    #[error("{0:?} is not a two-letter region code such as DE or US")]
    BadRegion(String),
}

/// A country or region whose national numbers (`0151 1234 5678` in `DE`) are taken
/// without their country code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region(phonenumber::country::Id);

impl FromStr for Region {
    type Err = PhoneError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let code = text.trim().to_ascii_uppercase();
        if code.len() != 2 {
            return Err(PhoneError::BadRegion(text.to_owned()));
        }
        code.parse::<phonenumber::country::Id>()
            .map(Region)
            .map_err(|_| PhoneError::BadRegion(text.to_owned()))
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_ref())
    }
}

/// A phone number in E.164 (`+4915112345678`). `Display` and `Debug` show it masked,
/// so a log line cannot print it by accident; [`PhoneNumber::e164`] is the clear value
/// for the places that must have it (the provider, the person's own page).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// What a person typed (`+49 151 1234-5678`, `0049…`, or `0151 1234 5678` with a
    /// `region`), checked against that country's numbering plan.
    pub fn parse(input: &str, region: Option<Region>) -> Result<PhoneNumber, PhoneError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(PhoneError::NotInNumberingPlan);
        }
        let (international, rest) = if let Some(rest) = trimmed.strip_prefix('+') {
            (true, rest)
        } else if let Some(rest) = trimmed.strip_prefix("00") {
            (true, rest)
        } else {
            (false, trimmed)
        };
        if !rest
            .chars()
            .all(|ch| ch.is_ascii_digit() || is_separator(ch))
        {
            return Err(PhoneError::BadCharacter);
        }
        let written = if international {
            format!("+{rest}")
        } else if region.is_some() {
            rest.to_owned()
        } else {
            return Err(PhoneError::NoCountryCode);
        };
        let parsed = phonenumber::parse(region.map(|region| region.0), &written)
            .map_err(|_| PhoneError::NotInNumberingPlan)?;
        if !parsed.is_valid() {
            return Err(PhoneError::NotInNumberingPlan);
        }
        Ok(PhoneNumber(
            parsed.format().mode(phonenumber::Mode::E164).to_string(),
        ))
    }

    /// As [`PhoneNumber::parse`], where a blank or absent field means "no number".
    pub fn parse_optional(
        input: Option<&str>,
        region: Option<Region>,
    ) -> Result<Option<PhoneNumber>, PhoneError> {
        match input.map(str::trim) {
            None | Some("") => Ok(None),
            Some(typed) => PhoneNumber::parse(typed, region).map(Some),
        }
    }

    /// As [`PhoneNumber::parse`], except that `saved` (the number its owner already
    /// has), typed again in any spelling (spaces, dashes, `00`), is taken as stored and
    /// not checked again: a number saved before numbering plans were checked stays
    /// usable by its owner.
    pub fn parse_or_saved(
        input: &str,
        region: Option<Region>,
        saved: Option<&PhoneNumber>,
    ) -> Result<PhoneNumber, PhoneError> {
        let trimmed = input.trim();
        let rest = trimmed
            .strip_prefix('+')
            .or_else(|| trimmed.strip_prefix("00"));
        if let (Some(rest), Some(saved)) = (rest, saved) {
            let digits: String = rest.chars().filter(|ch| !is_separator(*ch)).collect();
            if saved.0.strip_prefix('+') == Some(digits.as_str()) {
                return Ok(saved.clone());
            }
        }
        PhoneNumber::parse(input, region)
    }

    /// A number this server stored itself. It was checked when it was stored; it is
    /// not checked again, so a newer numbering plan cannot make a person unreadable.
    pub fn from_stored(e164: String) -> PhoneNumber {
        PhoneNumber(e164)
    }

    /// The number in clear. Only for whoever must dial it or show it to its owner.
    pub fn e164(&self) -> &str {
        &self.0
    }

    /// `+49********678`: enough to tell numbers apart in logs and pages.
    pub fn masked(&self) -> String {
        mask(&self.0)
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

/// The admin API shows an admin the numbers they manage.
impl Serialize for PhoneNumber {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl tokio_postgres::types::ToSql for PhoneNumber {
    fn to_sql(
        &self,
        ty: &tokio_postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        self.0.as_str().to_sql(ty, out)
    }

    fn accepts(ty: &tokio_postgres::types::Type) -> bool {
        <&str as tokio_postgres::types::ToSql>::accepts(ty)
    }

    tokio_postgres::types::to_sql_checked!();
}

impl<'a> tokio_postgres::types::FromSql<'a> for PhoneNumber {
    fn from_sql(
        ty: &tokio_postgres::types::Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        let text = <String as tokio_postgres::types::FromSql>::from_sql(ty, raw)?;
        Ok(PhoneNumber::from_stored(text))
    }

    fn accepts(ty: &tokio_postgres::types::Type) -> bool {
        <String as tokio_postgres::types::FromSql>::accepts(ty)
    }
}

/// `+4915112345678` → `+49*******678`, for a number held as text.
pub fn mask(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() <= 6 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 3..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 6))
}

/// Separators people and providers write inside a number: `+49 151 1234-5678`,
/// `(0151) 1234.5678`, `0151/12345678`.
fn is_separator(ch: char) -> bool {
    matches!(ch, ' ' | '-' | '.' | '(' | ')' | '/')
}

/// Masks every phone number in free text (a provider's error message, a plugin's log
/// line), written however it is: `+` (or `%2B`) and 7 or more digits, or, without the
/// `+`, 9 or more digits (national and bare forms), with spaces, dashes, dots, slashes
/// or brackets between them. All but the last three digits (and a `+` with the two after it) become
/// `*`; separators stay. A run of digits glued to letters (an id, a hash) is left alone.
pub fn mask_in_text(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while at < chars.len() {
        // `%2B`: a `+` as a URL writes it (a provider's error quoting its request).
        let encoded_plus = at >= 3
            && chars[at - 3] == '%'
            && chars[at - 2] == '2'
            && chars[at - 1].eq_ignore_ascii_case(&'b');
        let plus = chars[at] == '+' || encoded_plus;
        let digits_from = if chars[at] == '+' { at + 1 } else { at };
        // Glued to what comes before: a letter or digit, or a letter or digit and a
        // joining `-`, `.`, `/` or `_` (the later groups of a UUID, say).
        let glued_before = !encoded_plus
            && at > 0
            && (chars[at - 1].is_alphanumeric()
                || (matches!(chars[at - 1], '-' | '.' | '/' | '_')
                    && at > 1
                    && chars[at - 2].is_alphanumeric()));
        if glued_before || !chars.get(digits_from).is_some_and(char::is_ascii_digit) {
            out.push(chars[at]);
            at += 1;
            continue;
        }
        // The run: digits, and single separators (or a bracket pair's) between digits.
        let mut end = digits_from;
        let mut digits = 0;
        let mut cursor = digits_from;
        while cursor < chars.len() {
            if chars[cursor].is_ascii_digit() {
                digits += 1;
                cursor += 1;
                end = cursor;
                continue;
            }
            let mut next = cursor;
            while next < chars.len() && next < cursor + 3 && is_separator(chars[next]) {
                next += 1;
            }
            if next > cursor && chars.get(next).is_some_and(char::is_ascii_digit) {
                cursor = next;
            } else {
                break;
            }
        }
        let glued_after = chars.get(end).is_some_and(|ch| ch.is_alphanumeric());
        // No upper bound: numbers written one after the other join into one run, and
        // masking a long run whole is the safe side.
        let is_number = !glued_after && digits >= if plus { 7 } else { 9 };
        if !is_number {
            out.extend(&chars[at..end]);
            at = end;
            continue;
        }
        let shown_head = if plus { 2 } else { 0 };
        let mut seen = 0;
        for &ch in &chars[at..end] {
            if ch.is_ascii_digit() {
                seen += 1;
                if seen > shown_head && seen <= digits - 3 {
                    out.push('*');
                    continue;
                }
            }
            out.push(ch);
        }
        at = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn de() -> Option<Region> {
        Some("de".parse().unwrap())
    }

    #[test]
    fn normalizes_common_spellings() {
        for (typed, region, e164) in [
            ("+49 151 1234-5678", None, "+4915112345678"),
            ("0049 (151) 12345678", None, "+4915112345678"),
            (" +1 415.555.0100 ", None, "+14155550100"),
            ("0151 1234 5678", de(), "+4915112345678"),
            ("+44 7911 123456", de(), "+447911123456"),
        ] {
            assert_eq!(
                PhoneNumber::parse(typed, region).unwrap().e164(),
                e164,
                "{typed}"
            );
        }
    }

    #[test]
    fn refuses_numbers_outside_numbering_plans_or_with_junk() {
        let parse = |typed| PhoneNumber::parse(typed, None);
        assert_eq!(parse("015112345678"), Err(PhoneError::NoCountryCode));
        assert_eq!(parse("+49 151 CALLME"), Err(PhoneError::BadCharacter));
        assert_eq!(parse("+12345"), Err(PhoneError::NotInNumberingPlan));
        assert_eq!(parse("+0151123456"), Err(PhoneError::NotInNumberingPlan));
        assert_eq!(
            parse("+1234567890123456"),
            Err(PhoneError::NotInNumberingPlan)
        );
        // E.164's shape, but no such number: 555 is not a US area code.
        assert_eq!(parse("+15550001111"), Err(PhoneError::NotInNumberingPlan));
        assert_eq!(parse(""), Err(PhoneError::NotInNumberingPlan));
        assert!(matches!(
            "XX".parse::<Region>(),
            Err(PhoneError::BadRegion(_))
        ));
        assert!(matches!(
            "DEU".parse::<Region>(),
            Err(PhoneError::BadRegion(_))
        ));
    }

    #[test]
    fn a_saved_number_typed_again_is_taken_as_stored() {
        // Saved under the old shape-only rule; no such US area code.
        let saved = PhoneNumber::from_stored("+15550001111".to_owned());
        for typed in ["+15550001111", "+1 555 000-1111", "001 555 0001111"] {
            assert_eq!(
                PhoneNumber::parse_or_saved(typed, None, Some(&saved)),
                Ok(saved.clone()),
                "{typed}"
            );
        }
        assert_eq!(
            PhoneNumber::parse_or_saved("+15550001112", None, Some(&saved)),
            Err(PhoneError::NotInNumberingPlan)
        );
        assert_eq!(
            PhoneNumber::parse_or_saved("+15550001111", None, None),
            Err(PhoneError::NotInNumberingPlan)
        );
    }

    #[test]
    fn display_and_debug_mask_the_number() {
        let number = PhoneNumber::parse("+4915112345678", None).unwrap();
        assert_eq!(number.to_string(), "+49********678");
        assert_eq!(format!("{number:?}"), "PhoneNumber(+49********678)");
        assert!(!format!("{number} {number:?}").contains("1123"));
        assert_eq!(number.e164(), "+4915112345678");
    }

    #[test]
    fn numbers_inside_text_are_masked() {
        assert_eq!(
            mask_in_text("The 'To' number +4915112345678 is not valid (+1 short: +123)"),
            "The 'To' number +49********678 is not valid (+1 short: +123)"
        );
        assert_eq!(mask_in_text("no numbers"), "no numbers");
        assert_eq!(mask_in_text("ends with +"), "ends with +");
    }

    #[test]
    fn numbers_written_any_way_are_masked() {
        for (written, masked) in [
            ("+49 151 1234-5678", "+49 *** ****-*678"),
            ("call 0151 1234 5678 now", "call **** **** *678 now"),
            ("015112345678", "*********678"),
            ("(0151) 1234.5678", "(****) ****.*678"),
            ("0049-151-12345678", "****-***-*****678"),
            ("to 4915112345678.", "to **********678."),
            ("To=%2B4915112345678&Body=x", "To=%2B49********678&Body=x"),
            ("0301234567 015112345678", "********** *********678"),
        ] {
            let shown = mask_in_text(written);
            assert_eq!(shown, masked, "{written}");
            assert!(!shown.contains("1234"), "{written}");
        }
    }

    #[test]
    fn ids_dates_and_small_numbers_are_left_alone() {
        for text in [
            "on 2026-11-28 at 04:20:02",
            "error 21211 from the provider",
            "notification 550e8400-e29b-41d4-a716-446655440000",
            "hash 9f86d081884c7d659a2feaa0c55ad015",
            "took 1234 ms",
            "+123 is short",
            "id%2Bfoo and %2B123",
        ] {
            assert_eq!(mask_in_text(text), text);
        }
    }
}
