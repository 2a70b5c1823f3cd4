//! The people we page. Matched by email (case-insensitively), as the engine does.

use super::Cached;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::Row;

use super::{Store, StoreError};
use crate::config::VerificationMode;
use crate::ids;
use crate::model::{validate_email, validate_username, PhoneNumber, Role};

#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: String,
    pub email: String,
    pub username: String,
    pub name: String,
    pub phone_number: Option<PhoneNumber>,
    /// When the number was confirmed, by its owner's code or by an admin setting it.
    pub phone_verified_at: Option<DateTime<Utc>>,
    pub role: Role,
    pub active: bool,
    pub attributes: serde_json::Map<String, serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The secret in the person's verification link (the `id` the engine's users sync
    /// reads). Never logged, never in the admin API or a plugin's payload.
    #[serde(skip)]
    pub link_id: String,
}

impl User {
    /// Whether the number counts as verified: in `trust` mode any stored number does
    /// (what the Go original promised), in `code` mode only a confirmed one.
    pub fn is_phone_verified(&self, mode: VerificationMode) -> bool {
        self.phone_number.is_some()
            && (mode.trusts_every_number() || self.phone_verified_at.is_some())
    }

    fn from_row(row: &Row) -> Result<User, StoreError> {
        User::from_row_at(row, 0)
    }

    /// The user in the row's columns from `at` on, in [`COLUMNS`] order: a joined row
    /// repeats names (`id`, `created_at`), so they are read by position.
    pub(super) fn from_row_at(row: &Row, at: usize) -> Result<User, StoreError> {
        let attributes = match row.try_get::<_, serde_json::Value>(at + 8)? {
            serde_json::Value::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        Ok(User {
            id: row.try_get(at)?,
            email: row.try_get(at + 1)?,
            username: row.try_get(at + 2)?,
            name: row.try_get(at + 3)?,
            phone_number: row.try_get(at + 4)?,
            phone_verified_at: row.try_get(at + 5)?,
            role: row.try_get(at + 6)?,
            active: row.try_get(at + 7)?,
            attributes,
            created_at: row.try_get(at + 9)?,
            updated_at: row.try_get(at + 10)?,
            link_id: row.try_get(at + 11)?,
        })
    }
}

/// Numbers set by an admin (API, CLI, import) count as verified at once; `$5` is the
/// number in every statement that uses these.
const ADMIN_VERIFIED_AT: &str = "CASE WHEN $5::text IS NULL THEN NULL ELSE now() END";
const ADMIN_VERIFIED_BY: &str = "CASE WHEN $5::text IS NULL THEN NULL ELSE 'admin' END";

pub(super) const COLUMNS: &str =
    "id, email, username, name, phone_number, phone_verified_at, role, active,
     attributes, created_at, updated_at, link_id";

/// [`COLUMNS`] of a users table joined as `u`.
pub(super) const JOINED_COLUMNS: &str = "u.id, u.email, u.username, u.name, u.phone_number, \
     u.phone_verified_at, u.role, u.active, u.attributes, u.created_at, u.updated_at, u.link_id";

/// How many columns [`User::from_row_at`] reads.
pub(super) const COLUMN_COUNT: usize = 12;

/// What creating a user takes; checked by [`NewUser::validate`]. The number was
/// checked where it was typed, against its numbering plan.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub username: String,
    pub name: String,
    pub phone_number: Option<PhoneNumber>,
    pub role: Role,
    pub attributes: serde_json::Map<String, serde_json::Value>,
}

/// A partial change; `None` leaves a field as it is. `phone_number: Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct UserUpdate {
    pub email: Option<String>,
    pub username: Option<String>,
    pub name: Option<String>,
    pub phone_number: Option<Option<PhoneNumber>>,
    pub role: Option<Role>,
    pub active: Option<bool>,
    /// Merged into the attributes; a JSON null removes that key.
    pub attributes: serde_json::Map<String, serde_json::Value>,
}

impl NewUser {
    pub fn validate(mut self) -> Result<NewUser, StoreError> {
        self.email = validate_email(&self.email)?;
        self.username = validate_username(&self.username)?;
        self.name = self.name.trim().to_owned();
        Ok(self)
    }
}

impl UserUpdate {
    /// `user` with this change applied, every changed field checked.
    fn apply_to(self, mut user: User) -> Result<User, StoreError> {
        if let Some(email) = self.email {
            user.email = validate_email(&email)?;
        }
        if let Some(username) = self.username {
            user.username = validate_username(&username)?;
        }
        if let Some(name) = self.name {
            user.name = name.trim().to_owned();
        }
        if let Some(number) = self.phone_number {
            user.phone_number = number;
        }
        if let Some(role) = self.role {
            user.role = role;
        }
        if let Some(active) = self.active {
            user.active = active;
        }
        for (key, value) in self.attributes {
            if value.is_null() {
                user.attributes.remove(&key);
            } else {
                user.attributes.insert(key, value);
            }
        }
        Ok(user)
    }
}

/// The unique indexes of `users` (migrations 0001 and 0006), told apart by name.
fn conflict_message(err: StoreError) -> StoreError {
    match err {
        StoreError::Duplicate { constraint } if constraint == "users_email_key" => {
            StoreError::Conflict("a user with this email already exists".to_owned())
        }
        StoreError::Duplicate { constraint } if constraint == "users_username_key" => {
            StoreError::Conflict("a user with this username already exists".to_owned())
        }
        other => other,
    }
}

/// `WHERE` for a user named by id, or by email when the key contains `@`.
fn key_filter(key: &str) -> &'static str {
    if key.contains('@') {
        "lower(email) = lower($1)"
    } else {
        "id = $1"
    }
}

/// One page of users, in a stable order.
pub struct UserPage {
    pub users: Vec<User>,
    pub total: i64,
}

impl Store {
    pub async fn create_user(&self, new: NewUser) -> Result<User, StoreError> {
        let new = new.validate()?;
        let client = self.client().await?;
        let row = client
            .query_one_cached(
                &format!(
                    "INSERT INTO users (id, email, username, name, phone_number, role, attributes,
                                        phone_verified_at, phone_verified_by, link_id)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, {ADMIN_VERIFIED_AT}, {ADMIN_VERIFIED_BY}, $8)
                     RETURNING {COLUMNS}"
                ),
                &[
                    &ids::user_id(),
                    &new.email,
                    &new.username,
                    &new.name,
                    &new.phone_number,
                    &new.role,
                    &serde_json::Value::Object(new.attributes),
                    &ids::link_id(),
                ],
            )
            .await
            .map_err(|err| conflict_message(err.into()))?;
        User::from_row(&row)
    }

    /// By id, or by email when the key contains `@`.
    pub async fn find_user(&self, key: &str) -> Result<Option<User>, StoreError> {
        let client = self.client().await?;
        client
            .query_opt_cached(
                &format!("SELECT {COLUMNS} FROM users WHERE {}", key_filter(key)),
                &[&key.trim()],
            )
            .await?
            .as_ref()
            .map(User::from_row)
            .transpose()
    }

    /// The active user with this number (E.164): who an SMS reply comes from. `None`
    /// when nobody, or more than one person, has it.
    pub async fn find_active_by_phone(&self, e164: &str) -> Result<Option<User>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query_cached(
                &format!("SELECT {COLUMNS} FROM users WHERE active AND phone_number = $1 LIMIT 2"),
                &[&e164],
            )
            .await?;
        match rows.as_slice() {
            [only] => Ok(Some(User::from_row(only)?)),
            _ => Ok(None),
        }
    }

    /// An active user by the secret of their verification link, and nothing else.
    pub async fn find_active_user_by_link(&self, link: &str) -> Result<Option<User>, StoreError> {
        let client = self.client().await?;
        client
            .query_opt_cached(
                &format!("SELECT {COLUMNS} FROM users WHERE link_id = $1 AND active"),
                &[&link],
            )
            .await?
            .as_ref()
            .map(User::from_row)
            .transpose()
    }

    /// Gives the user (by id or email) a new link id: the old link stops working now,
    /// the new one reaches OnCall at its next user sync.
    pub async fn rotate_link(&self, key: &str) -> Result<User, StoreError> {
        let client = self.client().await?;
        let filter = key_filter(key);
        client
            .query_opt_cached(
                &format!(
                    "UPDATE users SET link_id = $2, updated_at = now() WHERE {filter}
                     RETURNING {COLUMNS}"
                ),
                &[&key.trim(), &ids::link_id()],
            )
            .await?
            .as_ref()
            .map(User::from_row)
            .transpose()?
            .ok_or_else(|| StoreError::NotFound(format!("no user {key}")))
    }

    /// Active users whose email is one of `emails` (case-insensitive), in the order given.
    pub async fn find_active_by_emails(&self, emails: &[String]) -> Result<Vec<User>, StoreError> {
        let client = self.client().await?;
        let lowered: Vec<String> = emails.iter().map(|email| email.to_lowercase()).collect();
        let rows = client
            .query_cached(
                &format!(
                    "SELECT {COLUMNS} FROM users
                     WHERE active AND lower(email) = ANY($1)
                     ORDER BY array_position($1, lower(email))"
                ),
                &[&lowered],
            )
            .await?;
        rows.iter().map(User::from_row).collect()
    }

    /// An active user by username, else by email (schedules name people by username).
    pub async fn find_active_by_username_or_email(
        &self,
        name: &str,
    ) -> Result<Option<User>, StoreError> {
        let client = self.client().await?;
        client
            .query_opt_cached(
                &format!(
                    "SELECT {COLUMNS} FROM users
                     WHERE active AND (lower(username) = lower($1) OR lower(email) = lower($1))
                     ORDER BY (lower(username) = lower($1)) DESC LIMIT 1"
                ),
                &[&name.trim()],
            )
            .await?
            .as_ref()
            .map(User::from_row)
            .transpose()
    }

    pub async fn find_active_by_attribute(
        &self,
        key: &str,
        value: &str,
    ) -> Result<Option<User>, StoreError> {
        let client = self.client().await?;
        client
            .query_opt_cached(
                &format!(
                    "SELECT {COLUMNS} FROM users WHERE active AND attributes ->> $1 = $2
                     ORDER BY created_at LIMIT 1"
                ),
                &[&key, &value],
            )
            .await?
            .as_ref()
            .map(User::from_row)
            .transpose()
    }

    /// Active users with one of `roles` (all roles when empty), page `page` (from 1).
    pub async fn page_active_users(
        &self,
        roles: &[Role],
        page: i64,
        per_page: i64,
    ) -> Result<UserPage, StoreError> {
        let client = self.client().await?;
        let filter = "active AND (cardinality($1::text[]) = 0 OR role = ANY($1))";
        let total: i64 = client
            .query_one_cached(
                &format!("SELECT count(*) FROM users WHERE {filter}"),
                &[&roles],
            )
            .await?
            .get(0);
        let rows = client
            .query_cached(
                &format!(
                    "SELECT {COLUMNS} FROM users WHERE {filter}
                     ORDER BY created_at, id LIMIT $2 OFFSET $3"
                ),
                // Saturating: a page past any that can exist is an empty one, not an overflow.
                &[&roles, &per_page, &(page - 1).saturating_mul(per_page)],
            )
            .await?;
        Ok(UserPage {
            users: rows.iter().map(User::from_row).collect::<Result<_, _>>()?,
            total,
        })
    }

    pub async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query_cached(
                &format!("SELECT {COLUMNS} FROM users ORDER BY lower(email)"),
                &[],
            )
            .await?;
        rows.iter().map(User::from_row).collect()
    }

    /// Applies `update` under a row lock, so two changes to one person at once both
    /// land (neither is lost by reading before the other wrote).
    pub async fn update_user(&self, key: &str, update: UserUpdate) -> Result<User, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let Some(row) = tx
            .query_opt_cached(
                &format!(
                    "SELECT {COLUMNS} FROM users WHERE {} FOR UPDATE",
                    key_filter(key)
                ),
                &[&key.trim()],
            )
            .await?
        else {
            return Err(StoreError::NotFound(format!("no user {key:?}")));
        };
        let user = update.apply_to(User::from_row(&row)?)?;
        // An admin changing the number vouches for it; keeping the same number keeps its
        // state, whoever confirmed it.
        let row = tx
            .query_one_cached(
                &format!(
                    "UPDATE users SET email = $2, username = $3, name = $4, phone_number = $5,
                         role = $6, active = $7, attributes = $8, updated_at = now(),
                         phone_verified_at = CASE WHEN phone_number IS NOT DISTINCT FROM $5
                             THEN phone_verified_at ELSE {ADMIN_VERIFIED_AT} END,
                         phone_verified_by = CASE WHEN phone_number IS NOT DISTINCT FROM $5
                             THEN phone_verified_by ELSE {ADMIN_VERIFIED_BY} END
                     WHERE id = $1 RETURNING {COLUMNS}"
                ),
                &[
                    &user.id,
                    &user.email,
                    &user.username,
                    &user.name,
                    &user.phone_number,
                    &user.role,
                    &user.active,
                    &serde_json::Value::Object(user.attributes.clone()),
                ],
            )
            .await
            .map_err(|err| conflict_message(err.into()))?;
        let updated = User::from_row(&row)?;
        tx.commit().await?;
        Ok(updated)
    }

    pub async fn remove_user(&self, key: &str) -> Result<User, StoreError> {
        let Some(user) = self.find_user(key).await? else {
            return Err(StoreError::NotFound(format!("no user {key:?}")));
        };
        let client = self.client().await?;
        client
            .execute_cached("DELETE FROM users WHERE id = $1", &[&user.id])
            .await?;
        Ok(user)
    }

    /// Creates or updates (matched by email) every user in one transaction: all or none.
    /// Returns how many were created and updated.
    pub async fn import_users(&self, users: Vec<NewUser>) -> Result<(usize, usize), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let (mut created, mut updated) = (0, 0);
        for (index, new) in users.into_iter().enumerate() {
            let row_no = index + 1;
            let new = new
                .validate()
                .map_err(|err| StoreError::Invalid(format!("record {row_no}: {err}")))?;
            let inserted: bool = tx
                .query_one_cached(
                    &format!(
                        "INSERT INTO users (id, email, username, name, phone_number, role,
                                            attributes, phone_verified_at, phone_verified_by, link_id)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, {ADMIN_VERIFIED_AT}, {ADMIN_VERIFIED_BY}, $8)
                         ON CONFLICT (lower(email)) DO UPDATE SET
                             username = EXCLUDED.username, name = EXCLUDED.name,
                             phone_number = EXCLUDED.phone_number, role = EXCLUDED.role,
                             attributes = users.attributes || EXCLUDED.attributes,
                             updated_at = now(),
                             phone_verified_at = CASE
                                 WHEN users.phone_number IS NOT DISTINCT FROM EXCLUDED.phone_number
                                 THEN users.phone_verified_at ELSE EXCLUDED.phone_verified_at END,
                             phone_verified_by = CASE
                                 WHEN users.phone_number IS NOT DISTINCT FROM EXCLUDED.phone_number
                                 THEN users.phone_verified_by ELSE EXCLUDED.phone_verified_by END
                         RETURNING (xmax = 0)"
                    ),
                    &[
                        &ids::user_id(),
                        &new.email,
                        &new.username,
                        &new.name,
                        &new.phone_number,
                        &new.role,
                        &serde_json::Value::Object(new.attributes),
                        &ids::link_id(),
                    ],
                )
                .await
                .map_err(|err| match conflict_message(err.into()) {
                    StoreError::Conflict(message) => {
                        StoreError::Conflict(format!("record {row_no}: {message}"))
                    }
                    other => other,
                })?
                .get(0);
            if inserted {
                created += 1;
            } else {
                updated += 1;
            }
        }
        tx.commit().await?;
        Ok((created, updated))
    }
}
