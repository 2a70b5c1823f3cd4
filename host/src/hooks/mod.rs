//! Two-way paging: providers' calls back to this server. A reply URL is signed for one
//! plugin and one notification ([`reply_url`]); what a call meant is carried out on
//! OnCall and recorded ([`events`]); what OnCall says happened to a group is told to
//! everyone paged for it ([`outcome`]). The HTTP side is `api::hooks`.

pub mod events;
pub mod outcome;
pub mod reply_url;

pub use reply_url::{ReplySigner, ReplyUrlError, ReplyUrls};
