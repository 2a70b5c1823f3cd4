//! Phone numbers: stored in E.164, shown masked everywhere but where a person types one.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("a phone number must start with + and the country code, e.g. +4915112345678")]
    NoCountryCode,
    #[error("a phone number may only contain digits, spaces, dots, dashes and brackets")]
    BadCharacter,
    #[error("a phone number has 7 to 15 digits after the +, the first not 0")]
    BadLength,
}

/// Normalises what a person typed (`+49 151 1234-5678`, `0049…`) into E.164.
pub fn normalize(input: &str) -> Result<String, PhoneError> {
    let trimmed = input.trim();
    let rest = if let Some(rest) = trimmed.strip_prefix('+') {
        rest
    } else if let Some(rest) = trimmed.strip_prefix("00") {
        rest
    } else {
        return Err(PhoneError::NoCountryCode);
    };
    let mut digits = String::with_capacity(rest.len());
    for ch in rest.chars() {
        match ch {
            '0'..='9' => digits.push(ch),
            ' ' | '-' | '.' | '(' | ')' | '/' => {}
            _ => return Err(PhoneError::BadCharacter),
        }
    }
    if !(7..=15).contains(&digits.len()) || digits.starts_with('0') {
        return Err(PhoneError::BadLength);
    }
    Ok(format!("+{digits}"))
}

/// `+4915112345678` → `+49*******678`: enough to tell numbers apart in logs and pages.
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

    #[test]
    fn normalizes_common_spellings() {
        assert_eq!(normalize("+49 151 1234-5678").unwrap(), "+4915112345678");
        assert_eq!(normalize("0049 (151) 12345678").unwrap(), "+4915112345678");
        assert_eq!(normalize(" +1 415.555.0100 ").unwrap(), "+14155550100");
    }

    #[test]
    fn refuses_numbers_without_country_code_or_with_junk() {
        assert_eq!(normalize("015112345678"), Err(PhoneError::NoCountryCode));
        assert_eq!(normalize("+49 151 CALLME"), Err(PhoneError::BadCharacter));
        assert_eq!(normalize("+12345"), Err(PhoneError::BadLength));
        assert_eq!(normalize("+0151123456"), Err(PhoneError::BadLength));
        assert_eq!(normalize("+1234567890123456"), Err(PhoneError::BadLength));
    }

    #[test]
    fn mask_hides_the_middle() {
        assert_eq!(mask("+4915112345678"), "+49********678");
        assert!(!mask("+4915112345678").contains("1123"));
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
