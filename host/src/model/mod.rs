//! The domain: what a channel, a status, a person's number and an attempt's outcome
//! are, apart from where they are stored and how they travel. Every layer may import
//! this module; it imports none of them.

mod action;
mod alert_group;
mod channel;
mod identity;
mod outcome;
pub mod phone;
pub mod phone_code;
mod role;
mod sql_text;
mod status;

pub use action::Action;
pub use alert_group::AlertGroup;
pub use channel::Channel;
pub use identity::{validate_email, validate_username};
pub use outcome::{AttemptOutcome, Failure, FailureKind, Receipt};
pub use phone::{PhoneError, PhoneNumber, Region};
pub use role::Role;
pub use status::Status;

/// A value that is not one of those a domain type takes; the message says which are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub String);
