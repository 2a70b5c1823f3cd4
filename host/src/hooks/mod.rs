//! Two-way paging: providers' calls back to this server. A reply URL is signed for one
//! plugin and one notification ([`reply_url`]); what a call meant is carried out on
//! OnCall and recorded ([`events`]). The HTTP side is `api::hooks`.

pub mod events;
pub mod reply_url;

pub use reply_url::{ReplySigner, ReplyUrlError, ReplyUrls};
