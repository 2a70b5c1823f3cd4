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

/// Masks every `+` followed by 7 to 15 digits in free text (a provider's error message,
/// say), so numbers quoted there are not shown in full either.
pub fn mask_in_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(plus) = rest.find('+') {
        out.push_str(&rest[..plus]);
        let after = &rest[plus + 1..];
        let digits = after.len()
            - after
                .trim_start_matches(|ch: char| ch.is_ascii_digit())
                .len();
        if (7..=15).contains(&digits) {
            out.push_str(&mask(&rest[plus..plus + 1 + digits]));
        } else {
            out.push_str(&rest[plus..plus + 1 + digits]);
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
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
}
