//! What makes an email address and a username acceptable.

use super::InvalidValue;

/// An email address as OnCall matches people by it: one `@`, something either side,
/// no spaces, at most 254 characters. Returns it trimmed.
pub fn validate_email(email: &str) -> Result<String, InvalidValue> {
    let email = email.trim();
    let valid = email.len() <= 254
        && !email.contains(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@')
        });
    if valid {
        Ok(email.to_owned())
    } else {
        Err(InvalidValue(format!("{email:?} is not an email address")))
    }
}

/// A username as Grafana allows one (1 to 150 characters). Returns it trimmed.
pub fn validate_username(username: &str) -> Result<String, InvalidValue> {
    let username = username.trim();
    if username.is_empty() || username.chars().count() > 150 {
        return Err(InvalidValue(
            "a username has 1 to 150 characters".to_owned(),
        ));
    }
    Ok(username.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_checked() {
        assert_eq!(validate_email(" a@example.com ").unwrap(), "a@example.com");
        for bad in ["", "a", "@example.com", "a@", "a@b@c", "a b@example.com"] {
            assert!(validate_email(bad).is_err(), "{bad:?}");
        }
        assert!(validate_email(&format!("{}@example.com", "a".repeat(250))).is_err());
    }

    #[test]
    fn usernames_have_one_to_150_characters() {
        assert_eq!(validate_username(" alice ").unwrap(), "alice");
        assert!(validate_username("  ").is_err());
        assert!(validate_username(&"ü".repeat(150)).is_ok());
        assert!(validate_username(&"a".repeat(151)).is_err());
    }
}
