use tokio_postgres::error::SqlState;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or is shutting down; callers answer 503.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("{0}")]
    Conflict(String),
    /// A unique constraint refused a row; `constraint` names which, so callers tell
    /// one duplicate from another without reading the server's message.
    #[error("already exists ({constraint})")]
    Duplicate { constraint: String },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("database error: {0}")]
    Query(tokio_postgres::Error),
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(err: tokio_postgres::Error) -> Self {
        let Some(db_error) = err.as_db_error() else {
            // No server answer at all: the connection broke or never opened.
            return StoreError::Unavailable(err.to_string());
        };
        let code = db_error.code();
        if *code == SqlState::UNIQUE_VIOLATION {
            StoreError::Duplicate {
                constraint: db_error.constraint().unwrap_or_default().to_owned(),
            }
        } else if *code == SqlState::ADMIN_SHUTDOWN
            || *code == SqlState::CRASH_SHUTDOWN
            || *code == SqlState::CANNOT_CONNECT_NOW
            || *code == SqlState::TOO_MANY_CONNECTIONS
        {
            StoreError::Unavailable(db_error.message().to_owned())
        } else {
            StoreError::Query(err)
        }
    }
}

impl From<crate::model::InvalidValue> for StoreError {
    fn from(err: crate::model::InvalidValue) -> Self {
        StoreError::Invalid(err.0)
    }
}

impl StoreError {
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}
