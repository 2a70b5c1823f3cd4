use hyper::body::Incoming;
use hyper::{Request, StatusCode};

use crate::api::auth;
use crate::api::response::{json, ApiResult};
use crate::api::state::AppState;

/// The token check the engine runs on connect: 200 with the base URL of the links it
/// shows people ("Verify in Cloud", the heartbeat page).
pub async fn get(state: &AppState, request: Request<Incoming>) -> ApiResult {
    auth::check_engine(request.headers(), &state.config().app)?;
    let url = state.pages_base(request.headers());
    Ok(json(StatusCode::OK, &serde_json::json!({ "url": url })))
}
