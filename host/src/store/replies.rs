//! SMS replies: which alert groups are still open for a person (`group_states`), the
//! pages that reached them about those groups, and the short codes a reply names a
//! group by when several are open (`reply_codes`).

use std::time::Duration;

use uuid::Uuid;

use super::{Cached, Store, StoreError};

/// The newest page about one open alert group that reached a person through a plugin.
#[derive(Debug, Clone)]
pub struct OpenPage {
    pub notification_id: Uuid,
    pub alert_group_id: String,
    pub message: String,
    pub code: Option<String>,
}

/// Codes handed out, in order: one or two letters.
fn code_for(index: usize) -> String {
    const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
    if index < LETTERS.len() {
        (LETTERS[index] as char).to_string()
    } else {
        let index = index - LETTERS.len();
        let first = LETTERS[(index / LETTERS.len()) % LETTERS.len()] as char;
        let second = LETTERS[index % LETTERS.len()] as char;
        format!("{first}{second}")
    }
}

impl Store {
    /// Pages about groups still open that reached `user_id` through `plugin` in the
    /// last `within`, newest first, one per group.
    pub async fn open_pages(
        &self,
        user_id: &str,
        plugin: &str,
        within: Duration,
    ) -> Result<Vec<OpenPage>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query_cached(
                "SELECT id, alert_group_id, message, code FROM (
                     SELECT DISTINCT ON (n.alert_group_id)
                            n.id, n.alert_group_id, n.message, rc.code, n.created_at
                     FROM notifications n
                     LEFT JOIN group_states g ON g.alert_group_id = n.alert_group_id
                     LEFT JOIN reply_codes rc
                            ON rc.user_id = n.user_id AND rc.alert_group_id = n.alert_group_id
                     WHERE n.user_id = $1 AND n.delivered_by = $2
                       AND n.alert_group_id IS NOT NULL
                       AND n.status IN ('delivered', 'awaiting')
                       AND n.created_at > now() - make_interval(secs => $3)
                       AND coalesce(n.payload->>'source', '') <> 'outcome'
                       AND coalesce(g.state, 'firing') = 'firing'
                     ORDER BY n.alert_group_id, n.created_at DESC) newest
                 ORDER BY created_at DESC",
                &[&user_id, &plugin, &within.as_secs_f64()],
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(OpenPage {
                    notification_id: row.try_get(0)?,
                    alert_group_id: row.try_get(1)?,
                    message: row.try_get(2)?,
                    code: row.try_get(3)?,
                })
            })
            .collect()
    }

    /// The code `user_id` names `group_id` by: the one it has, else the first that no
    /// group in `open_groups` uses. One person's codes are given out one at a time.
    pub async fn reply_code(
        &self,
        user_id: &str,
        group_id: &str,
        open_groups: &[String],
    ) -> Result<String, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext('reply-codes:' || $1))",
            &[&user_id],
        )
        .await?;
        if let Some(row) = tx
            .query_opt(
                "SELECT code FROM reply_codes WHERE user_id = $1 AND alert_group_id = $2",
                &[&user_id, &group_id],
            )
            .await?
        {
            let code: String = row.try_get(0)?;
            tx.commit().await?;
            return Ok(code);
        }
        let used: Vec<String> = tx
            .query(
                "SELECT code FROM reply_codes WHERE user_id = $1 AND alert_group_id = ANY($2)",
                &[&user_id, &open_groups],
            )
            .await?
            .iter()
            .map(|row| row.try_get(0))
            .collect::<Result<_, _>>()?;
        let code = (0..)
            .map(code_for)
            .find(|code| !used.contains(code))
            .unwrap_or_else(|| "zz".to_owned());
        tx.execute(
            "INSERT INTO reply_codes (user_id, alert_group_id, code) VALUES ($1, $2, $3)
             ON CONFLICT (user_id, alert_group_id) DO UPDATE SET code = EXCLUDED.code",
            &[&user_id, &group_id, &code],
        )
        .await?;
        tx.commit().await?;
        Ok(code)
    }

    /// What is now known of a group's state (`firing`, `acknowledged`, `resolved`,
    /// `silenced`).
    pub async fn set_group_state(&self, group_id: &str, state: &str) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute_cached(
                "INSERT INTO group_states (alert_group_id, state) VALUES ($1, $2)
                 ON CONFLICT (alert_group_id) DO UPDATE SET state = $2, updated_at = now()",
                &[&group_id, &state],
            )
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::code_for;

    #[test]
    fn codes_run_a_to_z_then_two_letters() {
        assert_eq!(code_for(0), "a");
        assert_eq!(code_for(25), "z");
        assert_eq!(code_for(26), "aa");
        assert_eq!(code_for(27), "ab");
    }
}
