//! Self-service phone verification: a code goes to the number a person typed, and the
//! number is saved, verified, only when they type the code back.

use chrono::{DateTime, Utc};

use crate::delivery::{Deliverer, Workers};
use crate::model::{phone_code, Channel, PhoneNumber, Region};
use crate::store::phone_codes::{Checked, CodeChannel, Issued, CODE_RULES};
use crate::store::users::User;
use crate::store::{Store, StoreError};

#[derive(Debug)]
pub enum CodeSent {
    /// The code is on its way to the (masked) number.
    OnItsWay {
        masked: String,
    },
    RateLimited {
        next_at: DateTime<Utc>,
    },
    /// A code is being sent right now; this one was not.
    InFlight,
    InvalidNumber(String),
    /// No plugin took the code; nothing was counted. `permanent`: every plugin refused
    /// it for good (the provider rejects the number), so trying again will not help.
    Refused {
        permanent: bool,
    },
    NoUser,
}

fn text_for(channel: CodeChannel, code: &str) -> String {
    let minutes = CODE_RULES.lifetime.as_secs() / 60;
    match channel {
        CodeChannel::Sms => format!(
            "Your Grafana OnCall verification code is {code}. It expires in {minutes} minutes. If you did not ask for it, ignore this message."
        ),
        // Spoken digit by digit, twice, so text-to-speech reads digits, not a number.
        CodeChannel::Call => {
            let spoken = spoken_digits(code);
            format!("Your Grafana OnCall verification code is: {spoken}. Again: {spoken}.")
        }
    }
}

/// `012345` → `0, 1, 2, 3, 4, 5`.
fn spoken_digits(code: &str) -> String {
    code.chars()
        .map(String::from)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Sends a fresh code for `typed_number` to that number.
pub async fn send_code(
    store: &Store,
    deliverer: &Deliverer,
    user: &User,
    typed_number: &str,
    region: Option<Region>,
    channel: CodeChannel,
) -> Result<CodeSent, StoreError> {
    let number = match PhoneNumber::parse_or_saved(typed_number, region, user.phone_number.as_ref())
    {
        Ok(number) => number,
        Err(err) => {
            tracing::info!(user = %user.id, "verification: the number typed is not valid");
            return Ok(CodeSent::InvalidNumber(err.to_string()));
        }
    };
    let masked = number.masked();
    let code = phone_code::new_code();
    let hashed = phone_code::hash(&user.id, &code);
    let id = match store
        .issue_phone_code(&user.id, &number, channel, &hashed, CODE_RULES)
        .await?
    {
        Issued::Issued { id } => id,
        Issued::RateLimited { next_at } => {
            tracing::warn!(user = %user.id, phone = %masked, "verification: hourly code limit reached");
            return Ok(CodeSent::RateLimited { next_at });
        }
        Issued::InFlight => {
            tracing::info!(user = %user.id, "verification: a code is already being sent; this request sent none");
            return Ok(CodeSent::InFlight);
        }
        Issued::NoUser => return Ok(CodeSent::NoUser),
    };
    let mut recipient = user.clone();
    recipient.phone_number = Some(number);
    let route = match channel {
        CodeChannel::Sms => Channel::Sms,
        CodeChannel::Call => Channel::Call,
    };
    let spoken = spoken_digits(&code);
    match deliverer
        .send_unstored(
            route,
            &recipient,
            &text_for(channel, &code),
            &[&code, &spoken],
        )
        .await
    {
        Ok(plugin) => {
            store.mark_phone_code_sent(&user.id, id, CODE_RULES).await?;
            tracing::info!(user = %user.id, phone = %masked, channel = channel.as_str(), %plugin, "verification: code sent");
            Ok(CodeSent::OnItsWay { masked })
        }
        Err(failure) => {
            tracing::warn!(user = %user.id, phone = %masked, channel = channel.as_str(), permanent = failure.permanent, maybe_sent = failure.maybe_sent, error = %failure.reason, "verification: code could not be sent");
            if failure.maybe_sent {
                // It may have gone out (and a call may have rung): it counts.
                store.close_unsent_phone_code(id).await?;
            } else {
                store.discard_phone_code(id).await?;
            }
            Ok(CodeSent::Refused {
                permanent: failure.permanent,
            })
        }
    }
}

/// Checks a typed code; on a match the number is saved and verified, and the number it
/// replaced is told.
pub async fn confirm(
    store: &Store,
    workers: &Workers,
    user: &User,
    typed: &str,
) -> Result<Checked, StoreError> {
    let checked = store.check_phone_code(&user.id, typed, CODE_RULES).await?;
    match &checked {
        Checked::Confirmed { phone_number } => {
            tracing::info!(user = %user.id, phone = %phone_number, "verification: number confirmed and saved");
            if let Some(previous) = user
                .phone_number
                .as_ref()
                .filter(|old| *old != phone_number)
            {
                let text = format!(
                    "Your Grafana OnCall phone number was changed to {}: pages now go there. If you did not do this, tell your admin.",
                    phone_number.masked()
                );
                tell_previous_number(workers, user, previous, text);
            }
        }
        Checked::Wrong { tries_left } => {
            tracing::info!(user = %user.id, tries_left, "verification: wrong code")
        }
        Checked::TooManyTries => {
            tracing::warn!(user = %user.id, "verification: code closed after too many wrong tries")
        }
        Checked::Expired => tracing::info!(user = %user.id, "verification: code expired"),
        Checked::NoCode => tracing::info!(user = %user.id, "verification: no open code"),
    }
    Ok(checked)
}

/// Removes the user's own number, and tells that number.
pub async fn remove(store: &Store, workers: &Workers, user: &User) -> Result<bool, StoreError> {
    let removed = store.remove_own_phone(&user.id).await?;
    tracing::info!(user = %user.id, removed, "verification: the user removed their number");
    if let (true, Some(previous)) = (removed, user.phone_number.as_ref()) {
        let text = "Your number was removed from Grafana OnCall: pages will no longer reach it. If you did not do this, tell your admin.".to_owned();
        tell_previous_number(workers, user, previous, text);
    }
    Ok(removed)
}

/// Whoever holds a person's link can change their number, so the number that stops
/// getting pages is told, once and best effort, without holding up the page.
fn tell_previous_number(workers: &Workers, user: &User, previous: &PhoneNumber, text: String) {
    let mut recipient = user.clone();
    recipient.phone_number = Some(previous.clone());
    let deliverer = workers.deliverer().clone();
    let masked = previous.masked();
    workers.spawn(async move {
        match deliverer
            .send_unstored(Channel::Sms, &recipient, &text, &[])
            .await
        {
            Ok(plugin) => {
                tracing::info!(user = %recipient.id, phone = %masked, %plugin, "verification: the previous number was told of the change")
            }
            Err(failure) => {
                tracing::warn!(user = %recipient.id, phone = %masked, error = %failure.reason, "verification: could not tell the previous number of the change")
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_texts_spell_the_code_out() {
        assert_eq!(
            text_for(CodeChannel::Call, "012345"),
            "Your Grafana OnCall verification code is: 0, 1, 2, 3, 4, 5. Again: 0, 1, 2, 3, 4, 5."
        );
        assert!(text_for(CodeChannel::Sms, "012345").contains("012345"));
    }
}
