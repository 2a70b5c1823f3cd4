use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use super::json_body;
use crate::api::response::{json, ApiError, ApiResult};
use crate::api::state::AppState;
use crate::model::{PhoneNumber, Role};
use crate::store::users::{NewUser, UserUpdate};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateUser {
    email: String,
    username: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    phone_number: Option<String>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    attributes: Map<String, Value>,
}

/// Distinguishes an absent field (leave as is) from an explicit `null` (clear it).
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchUser {
    email: Option<String>,
    username: Option<String>,
    name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    phone_number: Option<Option<String>>,
    role: Option<String>,
    active: Option<bool>,
    #[serde(default)]
    attributes: Map<String, Value>,
}

fn parse_role(role: Option<&str>) -> Result<Option<Role>, ApiError> {
    role.map(|role| role.parse::<Role>())
        .transpose()
        .map_err(ApiError::from)
}

fn parse_phone(state: &AppState, typed: Option<&str>) -> Result<Option<PhoneNumber>, ApiError> {
    PhoneNumber::parse_optional(typed, state.config().users.default_region)
        .map_err(|err| ApiError::BadRequest(err.to_string()))
}

pub async fn list(state: &AppState) -> ApiResult {
    let users = state.store.list_users().await?;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "results": users }),
    ))
}

pub async fn get(state: &AppState, key: &str) -> ApiResult {
    match state.store.find_user(key).await? {
        Some(user) => Ok(json(StatusCode::OK, &user)),
        None => Err(ApiError::NotFoundDetail(format!("no user {key:?}"))),
    }
}

pub async fn create(state: &AppState, request: Request<Incoming>) -> ApiResult {
    let body: CreateUser = json_body(state, request).await?;
    let user = state
        .store
        .create_user(NewUser {
            email: body.email,
            username: body.username,
            name: body.name,
            phone_number: parse_phone(state, body.phone_number.as_deref())?,
            role: parse_role(body.role.as_deref())?.unwrap_or(Role::User),
            attributes: body.attributes,
        })
        .await?;
    tracing::info!(user = %user.id, phone = ?user.phone_number, "user created through the admin API");
    Ok(json(StatusCode::CREATED, &user))
}

pub async fn update(state: &AppState, request: Request<Incoming>, key: &str) -> ApiResult {
    let body: PatchUser = json_body(state, request).await?;
    let user = state
        .store
        .update_user(
            key,
            UserUpdate {
                email: body.email,
                username: body.username,
                name: body.name,
                phone_number: body
                    .phone_number
                    .map(|typed| parse_phone(state, typed.as_deref()))
                    .transpose()?,
                role: parse_role(body.role.as_deref())?,
                active: body.active,
                attributes: body.attributes,
            },
        )
        .await?;
    tracing::info!(user = %user.id, phone = ?user.phone_number, "user updated through the admin API");
    Ok(json(StatusCode::OK, &user))
}

pub async fn remove(state: &AppState, key: &str) -> ApiResult {
    let user = state.store.remove_user(key).await?;
    tracing::info!(user = %user.id, "user removed through the admin API");
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "removed": user.id }),
    ))
}
