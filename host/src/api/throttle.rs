//! Failed attempts at the admin token, by client address: past the limit a client is
//! refused before its token is even looked at, on every replica, for the rest of the
//! window. Guessing the token online then takes forever.

use std::net::IpAddr;
use std::time::Duration;

use hyper::Request;

use crate::store::{Store, StoreError};

/// Failures a client may have in one window.
pub const MAX_FAILURES: i32 = 10;
/// How long a window lasts from the client's first failure in it.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

/// The address a connection came from, put on each request by the server.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub IpAddr);

/// Where the token was tried.
#[derive(Debug, Clone, Copy)]
pub enum Surface {
    /// The status page's sign-in form.
    Login,
    /// `/admin/api/v1`.
    Admin,
}

impl Surface {
    fn as_str(self) -> &'static str {
        match self {
            Surface::Login => "login",
            Surface::Admin => "admin",
        }
    }
}

/// The client address of `request` (behind a proxy: the proxy's).
pub fn client_of<B>(request: &Request<B>) -> String {
    request
        .extensions()
        .get::<ClientAddr>()
        .map(|addr| addr.0.to_string())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Whether `client` has used up its failures on `surface`.
pub async fn blocked(store: &Store, client: &str, surface: Surface) -> Result<bool, StoreError> {
    Ok(store
        .auth_failures(client, surface.as_str(), WINDOW)
        .await?
        >= MAX_FAILURES)
}

/// Counts a failure; a database that cannot count it is logged, not fatal to the answer
/// (the token was wrong either way).
pub async fn failed(store: &Store, client: &str, surface: Surface) {
    if let Err(err) = store
        .record_auth_failure(client, surface.as_str(), WINDOW)
        .await
    {
        tracing::warn!(surface = surface.as_str(), error = %err, "cannot count a failed token attempt");
    }
}
