//! The host's side of `emu-oncall:notifier@0.1.0` (`wit/notifier.wit`): its bindings
//! and the conversions between the host's types and its WIT types. Kept unchanged so
//! plugins built against 0.1.0 load and deliver as they always did. `wasi:*` types
//! come from wasmtime-wasi.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "notifier",
    exports: { default: async },
    with: {
        "wasi:http": wasmtime_wasi_http::p2::bindings::http,
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
    },
    require_store_data_send: true,
});

// The bindings name their own `Notification`, `Channel`, …: the host's are reached
// through these two paths.
use self::emu_oncall::notifier::types as wit;
use super::types as host;
use crate::model as domain;

super::wit_common::conversions_every_version_shares!();

/// 0.1.0 has no reply URL: a plugin built for it never sees one.
pub(super) fn notification_to_wit(notification: &host::Notification) -> wit::Notification {
    wit::Notification {
        id: notification.id.clone(),
        channel: channel_to_wit(notification.channel),
        recipient: recipient_to_wit(&notification.recipient),
        message: notification.message.clone(),
        alert_group: notification.alert_group.as_ref().map(alert_group_to_wit),
        attempt: notification.attempt,
        created_at: notification.created_at.clone(),
    }
}
