//! OnCall schedules from their iCal exports: parsing, recurrence expansion and the one
//! pure function that says who is on call at an instant.

mod calendar;
mod expand;
pub mod fetch;
mod poller;
pub mod shift;
mod time;
mod vtimezone;

pub use calendar::{parse, Calendar, CalendarError, Event};
pub use expand::{occurrences, on_call_at, Occurrence};
pub use poller::{export_url, Poller};
