//! Reading requests from outside, for the engine's API and the browser pages alike:
//! bodies within a size and time limit, form fields and query strings as the engine
//! writes them. Both `api/` and `web/` build on this; it knows neither.

mod body;
mod form;
mod query;

pub use body::read_body;
pub use form::{form_fields, required};
pub use query::{all, first, json_without_nul, query_params};

/// Why a request could not be read; each caller answers in its own way (JSON for the
/// engine, a page for a browser).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("request body over {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the request body did not arrive in time")]
    SlowBody,
    #[error("{0}")]
    Malformed(String),
}
