//! Reply URLs: `<base>hooks/<plugin>/n/<notification>/<expires>/<signature>[/more]`.
//! The signature (HMAC-SHA256 under a key every replica shares) covers the plugin, the
//! notification and the expiry, so a URL works only for the plugin it was made for,
//! only for its notification, and only until it expires. What follows the signature is
//! the plugin's own (e.g. `/status` for receipts) and is not covered: the plugin's
//! provider signs that part where it matters.

use chrono::{DateTime, Utc};
use hmac::Mac;
use uuid::Uuid;

/// Hex characters of the signature kept: 128 bits.
const SIGNATURE_HEX: usize = 32;

/// The path segment that marks a reply URL below `/hooks/<plugin>/`.
pub const MARK: &str = "n";

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReplyUrlError {
    #[error("the reply URL is malformed")]
    Malformed,
    #[error("the reply URL's signature does not match")]
    Forged,
    #[error("the reply URL has expired")]
    Expired,
}

/// Signs and checks reply URLs with one key.
#[derive(Clone)]
pub struct ReplySigner {
    key: Vec<u8>,
}

/// What a valid reply URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedFor {
    pub notification: Uuid,
    /// The path after the signature, starting with `/`, or empty.
    pub rest: String,
}

impl ReplySigner {
    pub fn new(key: Vec<u8>) -> Self {
        ReplySigner { key }
    }

    fn signature(&self, plugin: &str, notification: Uuid, expires: i64) -> String {
        let mut mac = crate::crypto::hmac_sha256(&self.key);
        mac.update(format!("reply-url\0{plugin}\0{notification}\0{expires}").as_bytes());
        let mut signature = hex::encode(mac.finalize().into_bytes());
        signature.truncate(SIGNATURE_HEX);
        signature
    }

    /// The reply URL for `plugin` and `notification` on `base` (ending in `/`).
    pub fn url(
        &self,
        base: &str,
        plugin: &str,
        notification: Uuid,
        expires: DateTime<Utc>,
    ) -> String {
        let expires = expires.timestamp();
        format!(
            "{base}hooks/{plugin}/{MARK}/{notification}/{expires}/{}",
            self.signature(plugin, notification, expires)
        )
    }

    /// Checks the segments after `/hooks/<plugin>/n/`: the notification, the expiry and
    /// the signature, then whatever the plugin added.
    pub fn check(
        &self,
        plugin: &str,
        segments: &[&str],
        now: DateTime<Utc>,
    ) -> Result<SignedFor, ReplyUrlError> {
        let [notification, expires, signature, rest @ ..] = segments else {
            return Err(ReplyUrlError::Malformed);
        };
        let notification = Uuid::parse_str(notification).map_err(|_| ReplyUrlError::Malformed)?;
        let expires: i64 = expires.parse().map_err(|_| ReplyUrlError::Malformed)?;
        let expected = self.signature(plugin, notification, expires);
        // Constant time, as the token checks in `api/auth.rs` compare.
        let same: bool =
            subtle::ConstantTimeEq::ct_eq(signature.as_bytes(), expected.as_bytes()).into();
        if !same {
            return Err(ReplyUrlError::Forged);
        }
        if now.timestamp() > expires {
            return Err(ReplyUrlError::Expired);
        }
        let rest = if rest.is_empty() {
            String::new()
        } else {
            format!("/{}", rest.join("/"))
        };
        Ok(SignedFor { notification, rest })
    }
}

/// The signer every replica shares, its key read from the database once.
pub struct ReplyUrls {
    store: crate::store::Store,
    signer: tokio::sync::OnceCell<ReplySigner>,
}

impl ReplyUrls {
    pub fn new(store: crate::store::Store) -> Self {
        ReplyUrls {
            store,
            signer: tokio::sync::OnceCell::new(),
        }
    }

    pub async fn signer(&self) -> Result<&ReplySigner, crate::store::StoreError> {
        self.signer
            .get_or_try_init(|| async {
                self.store
                    .web_secret("reply-urls")
                    .await
                    .map(ReplySigner::new)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn segments_of<'a>(url: &'a str, plugin: &str) -> Vec<&'a str> {
        let marker = format!("hooks/{plugin}/{MARK}/");
        let start = url.find(&marker).expect("a reply URL") + marker.len();
        url[start..].split('/').collect()
    }

    #[test]
    fn a_url_checks_out_for_its_plugin_until_it_expires() {
        let signer = ReplySigner::new(b"key".to_vec());
        let id = Uuid::new_v4();
        let now = Utc::now();
        let url = signer.url(
            "https://oncall.example/",
            "twilio",
            id,
            now + Duration::hours(24),
        );
        assert!(url.starts_with(&format!("https://oncall.example/hooks/twilio/n/{id}/")));
        let segments = segments_of(&url, "twilio");
        let signed = signer.check("twilio", &segments, now).expect("valid");
        assert_eq!(
            signed,
            SignedFor {
                notification: id,
                rest: String::new()
            }
        );

        let mut longer = segments.clone();
        longer.push("status");
        assert_eq!(
            signer.check("twilio", &longer, now).unwrap().rest,
            "/status"
        );

        assert_eq!(
            signer.check("twilio", &segments, now + Duration::hours(25)),
            Err(ReplyUrlError::Expired)
        );
        assert_eq!(
            signer.check("telegram", &segments, now),
            Err(ReplyUrlError::Forged)
        );
        assert_eq!(
            ReplySigner::new(b"other".to_vec()).check("twilio", &segments, now),
            Err(ReplyUrlError::Forged)
        );
    }

    #[test]
    fn a_changed_notification_or_expiry_is_forged() {
        let signer = ReplySigner::new(b"key".to_vec());
        let now = Utc::now();
        let url = signer.url("http://x/", "p", Uuid::new_v4(), now + Duration::hours(1));
        let segments = segments_of(&url, "p");
        let other = Uuid::new_v4().to_string();
        let swapped = [other.as_str(), segments[1], segments[2]];
        assert_eq!(signer.check("p", &swapped, now), Err(ReplyUrlError::Forged));
        let later = (now + Duration::days(365)).timestamp().to_string();
        let extended = [segments[0], later.as_str(), segments[2]];
        assert_eq!(
            signer.check("p", &extended, now),
            Err(ReplyUrlError::Forged)
        );
        assert_eq!(
            signer.check("p", &segments[..2], now),
            Err(ReplyUrlError::Malformed)
        );
        let bad = ["not-a-uuid", segments[1], segments[2]];
        assert_eq!(signer.check("p", &bad, now), Err(ReplyUrlError::Malformed));
    }
}
