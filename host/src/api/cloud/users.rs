//! `GET api/v1/users` (bulk, paged) and `GET api/v1/users/?email=` (one user): one view,
//! as in real Cloud.

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde::Serialize;

use crate::api::response::{json, ApiError, ApiResult};
use crate::api::state::AppState;
use crate::api::{auth, cloud::email_readings};
use crate::config::VerificationMode;
use crate::http::{all, first, query_params};
use crate::model::Role;
use crate::store::users::User;

const PAGE_SIZE: i64 = 100;

#[derive(Serialize)]
struct CloudUser<'a> {
    id: &'a str,
    grafana_id: Option<i64>,
    email: &'a str,
    username: &'a str,
    name: &'a str,
    role: Role,
    is_phone_number_verified: bool,
}

impl<'a> CloudUser<'a> {
    fn new(user: &'a User, mode: VerificationMode) -> Self {
        CloudUser {
            // The link secret, not the user id: the engine builds the person's
            // "Verify in Cloud" link from it (`CloudUserIdentity.cloud_id`, 20 characters).
            id: &user.link_id,
            grafana_id: None,
            email: &user.email,
            username: &user.username,
            name: &user.name,
            role: user.role,
            is_phone_number_verified: user.is_phone_verified(mode),
        }
    }
}

#[derive(Serialize)]
struct Page<'a> {
    count: i64,
    next: Option<String>,
    previous: Option<String>,
    results: Vec<CloudUser<'a>>,
    page_size: i64,
    current_page_number: i64,
    total_pages: i64,
}

fn invalid_page() -> ApiError {
    ApiError::NotFoundDetail("Invalid page.".to_owned())
}

pub async fn list(state: &AppState, request: Request<Incoming>) -> ApiResult {
    auth::check_engine(request.headers(), &state.config().app)?;
    let mode = state.config().verification.mode;
    let params = query_params(request.uri().query());
    let roles = all(&params, "roles")
        .map(|value| {
            value
                .trim()
                .parse::<i64>()
                .ok()
                .and_then(Role::from_legacy_number)
                .ok_or_else(|| ApiError::BadRequest(format!("roles: {value:?} is not 0, 1 or 2")))
        })
        .collect::<Result<Vec<Role>, _>>()?;

    if let Some(email) = first(&params, "email") {
        let users: Vec<User> = state
            .store
            .find_active_by_emails(&email_readings(email))
            .await?
            .into_iter()
            .filter(|user| roles.is_empty() || roles.contains(&user.role))
            .take(1)
            .collect();
        let count = users.len() as i64;
        return Ok(json(
            StatusCode::OK,
            &Page {
                count,
                next: None,
                previous: None,
                results: users
                    .iter()
                    .map(|user| CloudUser::new(user, mode))
                    .collect(),
                page_size: PAGE_SIZE,
                current_page_number: 1,
                total_pages: 1,
            },
        ));
    }

    let page = match first(&params, "page") {
        None => 1,
        Some(text) => text
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|page| *page >= 1)
            .ok_or_else(invalid_page)?,
    };
    let per_page = match first(&params, "perpage") {
        None => PAGE_SIZE,
        Some(text) => text
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|size| (1..=PAGE_SIZE).contains(size))
            .ok_or_else(|| ApiError::BadRequest(format!("perpage must be 1 to {PAGE_SIZE}")))?,
    };
    let found = state
        .store
        .page_active_users(&roles, page, per_page)
        .await?;
    let total_pages = ((found.total + per_page - 1) / per_page).max(1);
    let base = state.public_base(request.headers());
    let roles_query: String = roles
        .iter()
        .map(|role| match role {
            Role::Admin => "&roles=0",
            Role::User => "&roles=1",
            Role::Observer => "&roles=2",
        })
        .collect();
    let link = |page: i64| {
        format!("{base}api/v1/users?page={page}&perpage={per_page}&short=true{roles_query}")
    };
    // The engine asks for page+1 until `next` is null, so it must be null on the last
    // page and past it, or the sync never ends.
    let next = (page < total_pages).then(|| link(page + 1));
    let previous = (page > 1).then(|| link((page - 1).min(total_pages)));
    Ok(json(
        StatusCode::OK,
        &Page {
            count: found.total,
            next,
            previous,
            results: found
                .users
                .iter()
                .map(|user| CloudUser::new(user, mode))
                .collect(),
            page_size: per_page,
            current_page_number: page,
            total_pages,
        },
    ))
}
