//! Codes the verification page sends, and what confirming one changes. Every step runs
//! in one transaction holding the user's row, so replicas agree on the hourly limit and
//! on how many tries a code has left.

use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Cached, Store, StoreError};
use crate::model::phone_code::{self, HashedCode};
use crate::model::PhoneNumber;

/// Rules for codes; the issue fixes them, so they are not configuration.
#[derive(Debug, Clone, Copy)]
pub struct CodeRules {
    pub lifetime: Duration,
    pub max_tries: i32,
    pub per_hour: i64,
}

pub const CODE_RULES: CodeRules = CodeRules {
    lifetime: Duration::from_secs(10 * 60),
    max_tries: 5,
    per_hour: 3,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeChannel {
    Sms,
    Call,
}

impl CodeChannel {
    pub fn as_str(self) -> &'static str {
        match self {
            CodeChannel::Sms => "sms",
            CodeChannel::Call => "call",
        }
    }
}

#[derive(Debug)]
pub enum Issued {
    Issued {
        id: Uuid,
    },
    /// The user had `per_hour` codes in the last hour; the next is allowed at this time.
    RateLimited {
        next_at: DateTime<Utc>,
    },
    /// Another code for the user is being sent right now (a second tab, a double
    /// click): nothing was issued or counted.
    InFlight,
    NoUser,
}

/// How long an unsent code blocks another send: longer than any send takes (it is bound
/// by the plugins' timeouts), short enough that a replica that died mid-send does not
/// block the person for long.
const IN_FLIGHT: Duration = Duration::from_secs(120);

#[derive(Debug, PartialEq, Eq)]
pub enum Checked {
    /// The number is saved and verified.
    Confirmed {
        phone_number: PhoneNumber,
    },
    Wrong {
        tries_left: i32,
    },
    /// That was the last try: the code is closed.
    TooManyTries,
    Expired,
    /// No open code: none was sent, or it was used or replaced.
    NoCode,
}

impl Store {
    /// Records a new code for `phone_number` unless the hourly limit is reached. It cannot
    /// be typed back until [`Store::mark_phone_code_sent`]: a code that never went out
    /// must not be open to guessing.
    pub async fn issue_phone_code(
        &self,
        user_id: &str,
        phone_number: &PhoneNumber,
        channel: CodeChannel,
        hashed: &HashedCode,
        rules: CodeRules,
    ) -> Result<Issued, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let locked = tx
            .query_opt_cached(
                "SELECT id FROM users WHERE id = $1 AND active FOR UPDATE",
                &[&user_id],
            )
            .await?;
        if locked.is_none() {
            return Ok(Issued::NoUser);
        }
        let sending = tx
            .query_opt_cached(
                "SELECT 1 FROM phone_codes
                 WHERE user_id = $1 AND sent_at IS NULL AND closed_at IS NULL
                   AND created_at > now() - make_interval(secs => $2)
                 LIMIT 1",
                &[&user_id, &IN_FLIGHT.as_secs_f64()],
            )
            .await?;
        if sending.is_some() {
            return Ok(Issued::InFlight);
        }
        let recent = tx
            .query_one_cached(
                "SELECT count(*), min(created_at) FROM phone_codes
                 WHERE user_id = $1 AND created_at > now() - interval '1 hour'",
                &[&user_id],
            )
            .await?;
        let count: i64 = recent.try_get(0)?;
        if count >= rules.per_hour {
            let oldest: Option<DateTime<Utc>> = recent.try_get(1)?;
            let next_at = oldest.unwrap_or_else(Utc::now) + chrono::Duration::hours(1);
            return Ok(Issued::RateLimited { next_at });
        }
        // Rows older than a day serve no limit any more.
        tx.execute_cached(
            "DELETE FROM phone_codes WHERE user_id = $1 AND created_at < now() - interval '1 day'",
            &[&user_id],
        )
        .await?;
        let id = Uuid::new_v4();
        tx.execute_cached(
            "INSERT INTO phone_codes (id, user_id, phone_number, channel, salt, code_hash, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7))",
            &[
                &id,
                &user_id,
                &phone_number,
                &channel.as_str(),
                &hashed.salt,
                &hashed.hash,
                &rules.lifetime.as_secs_f64(),
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(Issued::Issued { id })
    }

    /// A plugin delivered code `id`: from now it can be typed back, for `rules.lifetime`,
    /// and the user's older codes are closed, so only the newest one works.
    pub async fn mark_phone_code_sent(
        &self,
        user_id: &str,
        id: Uuid,
        rules: CodeRules,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute_cached("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", &[&user_id])
            .await?;
        tx.execute_cached(
            "UPDATE phone_codes SET closed_at = now()
             WHERE user_id = $1 AND closed_at IS NULL AND id <> $2 AND sent_at IS NOT NULL",
            &[&user_id, &id],
        )
        .await?;
        tx.execute_cached(
            "UPDATE phone_codes SET sent_at = now(), expires_at = now() + make_interval(secs => $2)
             WHERE id = $1",
            &[&id, &rules.lifetime.as_secs_f64()],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A code whose send ended in doubt (a timeout: the provider may have taken it, and
    /// a call may have rung): closed, never typable, but counted against the hour's
    /// limit, so failing sends cannot make calls without end.
    pub async fn close_unsent_phone_code(&self, id: Uuid) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute_cached(
                "UPDATE phone_codes SET closed_at = now() WHERE id = $1 AND sent_at IS NULL",
                &[&id],
            )
            .await?;
        Ok(())
    }

    /// Forgets a code that surely did not go out (no plugin took it, or every one refused
    /// it for good), so it counts against no limit. It was never open to guessing either.
    pub async fn discard_phone_code(&self, id: Uuid) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute_cached(
                "DELETE FROM phone_codes WHERE id = $1 AND sent_at IS NULL",
                &[&id],
            )
            .await?;
        Ok(())
    }

    /// Checks `given` against the user's newest open code. A match saves its number as
    /// verified by code; a miss uses up one try.
    pub async fn check_phone_code(
        &self,
        user_id: &str,
        given: &str,
        rules: CodeRules,
    ) -> Result<Checked, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute_cached("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", &[&user_id])
            .await?;
        let row = tx
            .query_opt_cached(
                "SELECT c.id, c.phone_number, c.salt, c.code_hash, c.tries,
                        c.expires_at <= now() AS expired
                 FROM users u JOIN phone_codes c ON c.user_id = u.id
                 WHERE u.id = $1 AND u.active AND c.closed_at IS NULL AND c.sent_at IS NOT NULL
                 ORDER BY c.sent_at DESC LIMIT 1
                 FOR UPDATE OF c",
                &[&user_id],
            )
            .await?;
        let Some(row) = row else {
            return Ok(Checked::NoCode);
        };
        let id: Uuid = row.try_get("id")?;
        let phone_number: PhoneNumber = row.try_get("phone_number")?;
        let salt: Vec<u8> = row.try_get("salt")?;
        let hash: Vec<u8> = row.try_get("code_hash")?;
        let tries: i32 = row.try_get("tries")?;
        let expired: bool = row.try_get("expired")?;
        let close = "UPDATE phone_codes SET closed_at = now() WHERE id = $1";
        if expired {
            tx.execute_cached(close, &[&id]).await?;
            tx.commit().await?;
            return Ok(Checked::Expired);
        }
        if tries >= rules.max_tries {
            tx.execute_cached(close, &[&id]).await?;
            tx.commit().await?;
            return Ok(Checked::TooManyTries);
        }
        if phone_code::matches(&salt, &hash, user_id, given) {
            tx.execute_cached(close, &[&id]).await?;
            tx.execute_cached(
                "UPDATE users SET phone_number = $2, phone_verified_at = now(),
                     phone_verified_by = 'code', updated_at = now()
                 WHERE id = $1",
                &[&user_id, &phone_number],
            )
            .await?;
            tx.commit().await?;
            return Ok(Checked::Confirmed { phone_number });
        }
        let tries = tries + 1;
        let outcome = if tries >= rules.max_tries {
            tx.execute_cached(
                "UPDATE phone_codes SET tries = $2, closed_at = now() WHERE id = $1",
                &[&id, &tries],
            )
            .await?;
            Checked::TooManyTries
        } else {
            tx.execute_cached(
                "UPDATE phone_codes SET tries = $2 WHERE id = $1",
                &[&id, &tries],
            )
            .await?;
            Checked::Wrong {
                tries_left: rules.max_tries - tries,
            }
        };
        tx.commit().await?;
        Ok(outcome)
    }

    /// The user removes their own number: it is cleared with its verification, and any
    /// open code is closed. Returns whether there was a number.
    pub async fn remove_own_phone(&self, user_id: &str) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // The user's row first, as every other code statement takes it: the same lock
        // order, so two of them for one user never deadlock.
        tx.execute_cached("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", &[&user_id])
            .await?;
        tx.execute_cached(
            "UPDATE phone_codes SET closed_at = now() WHERE user_id = $1 AND closed_at IS NULL",
            &[&user_id],
        )
        .await?;
        let changed = tx
            .execute_cached(
                "UPDATE users SET phone_number = NULL, phone_verified_at = NULL,
                     phone_verified_by = NULL, updated_at = now()
                 WHERE id = $1 AND phone_number IS NOT NULL",
                &[&user_id],
            )
            .await?;
        tx.commit().await?;
        Ok(changed > 0)
    }

    /// The number the user's newest open code was sent to, masked for display.
    pub async fn open_code_number(&self, user_id: &str) -> Result<Option<String>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt_cached(
                "SELECT phone_number FROM phone_codes
                 WHERE user_id = $1 AND closed_at IS NULL AND sent_at IS NOT NULL
                   AND expires_at > now()
                 ORDER BY sent_at DESC LIMIT 1",
                &[&user_id],
            )
            .await?;
        Ok(row
            .map(|row| row.try_get::<_, PhoneNumber>(0))
            .transpose()?
            .map(|number: PhoneNumber| number.masked()))
    }
}
