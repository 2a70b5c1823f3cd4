//! The calls the OnCall engine makes to its Cloud URL (see the API contract).

pub mod heartbeat;
pub mod info;
pub mod integrations;
pub mod phone;
pub mod push;
pub mod users;

/// The ways an email may have reached us: as sent, and with spaces turned back into `+`
/// in case something on the way form-decoded a literal plus.
fn email_readings(email: &str) -> Vec<String> {
    let email = email.trim().to_owned();
    let mut readings = vec![email.clone()];
    if email.contains(' ') {
        readings.push(email.replace(' ', "+"));
    }
    readings
}
