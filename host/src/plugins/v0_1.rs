//! The host's side of `emu-oncall:notifier@0.1.0` (`wit/notifier.wit`): its bindings
//! and the conversions between the host's types and its WIT types. `wasi:*` types come
//! from wasmtime-wasi.

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

pub(super) fn channel_from_wit(channel: wit::Channel) -> domain::Channel {
    match channel {
        wit::Channel::Sms => domain::Channel::Sms,
        wit::Channel::Call => domain::Channel::Call,
        wit::Channel::Push => domain::Channel::Push,
        wit::Channel::Shift => domain::Channel::Shift,
        wit::Channel::Test => domain::Channel::Test,
    }
}

fn channel_to_wit(channel: domain::Channel) -> wit::Channel {
    match channel {
        domain::Channel::Sms => wit::Channel::Sms,
        domain::Channel::Call => wit::Channel::Call,
        domain::Channel::Push => wit::Channel::Push,
        domain::Channel::Shift => wit::Channel::Shift,
        domain::Channel::Test => wit::Channel::Test,
    }
}

fn recipient_to_wit(recipient: &host::Recipient) -> wit::Recipient {
    wit::Recipient {
        id: recipient.id.clone(),
        email: recipient.email.clone(),
        username: recipient.username.clone(),
        name: recipient.name.clone(),
        phone_number: recipient.phone_number.clone(),
        role: recipient.role.clone(),
        attributes: recipient.attributes.clone(),
    }
}

fn alert_group_to_wit(group: &domain::AlertGroup) -> wit::AlertGroup {
    wit::AlertGroup {
        id: group.id.clone(),
        number: group.number,
        title: group.title.clone(),
        state: group.state.clone(),
        integration: group.integration.clone(),
        permalink: group.permalink.clone(),
        labels: group.labels.clone(),
        started_at: group.started_at.clone(),
    }
}

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
