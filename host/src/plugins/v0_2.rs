//! The host's side of `emu-oncall:notifier@0.2.0` (`wit/v0.2.0/notifier.wit`): two-way
//! paging. Its bindings, and the conversions between the host's types and its WIT types.

wasmtime::component::bindgen!({
    path: "../wit/v0.2.0",
    world: "notifier",
    exports: { default: async },
    with: {
        "wasi:http": wasmtime_wasi_http::p2::bindings::http,
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
    },
    require_store_data_send: true,
});

use self::emu_oncall::notifier::types as wit;
use super::types as host;
use crate::model as domain;

super::wit_common::conversions_every_version_shares!();

pub(super) fn notification_to_wit(notification: &host::Notification) -> wit::Notification {
    wit::Notification {
        id: notification.id.clone(),
        channel: channel_to_wit(notification.channel),
        recipient: recipient_to_wit(&notification.recipient),
        message: notification.message.clone(),
        alert_group: notification.alert_group.as_ref().map(alert_group_to_wit),
        attempt: notification.attempt,
        created_at: notification.created_at.clone(),
        reply_url: notification.reply_url.clone(),
        reply_code: notification.reply_code.clone(),
    }
}

pub(super) fn request_to_wit(request: &host::InboundRequest) -> wit::InboundRequest {
    wit::InboundRequest {
        method: request.method.clone(),
        url: request.url.clone(),
        path: request.path.clone(),
        query: request.query.clone(),
        headers: request.headers.clone(),
        body: request.body.clone(),
        notification: request.notification.as_ref().map(notification_to_wit),
    }
}

fn action_to_wit(action: host::Action) -> wit::Action {
    match action {
        host::Action::Acknowledge => wit::Action::Acknowledge,
        host::Action::Resolve => wit::Action::Resolve,
        host::Action::Silence { seconds } => wit::Action::Silence(seconds),
        host::Action::Unacknowledge => wit::Action::Unacknowledge,
    }
}

fn action_from_wit(action: wit::Action) -> host::Action {
    match action {
        wit::Action::Acknowledge => host::Action::Acknowledge,
        wit::Action::Resolve => host::Action::Resolve,
        wit::Action::Silence(seconds) => host::Action::Silence { seconds },
        wit::Action::Unacknowledge => host::Action::Unacknowledge,
    }
}

fn event_to_wit(event: &host::InboundEvent) -> wit::InboundEvent {
    wit::InboundEvent {
        target: match &event.target {
            host::EventTarget::ThisNotification => wit::Target::ThisNotification,
            host::EventTarget::ProviderId(id) => wit::Target::ProviderId(id.clone()),
            host::EventTarget::ReplyFrom { phone_number, code } => {
                wit::Target::ReplyFrom(wit::ReplyFrom {
                    phone_number: phone_number.clone(),
                    code: code.clone(),
                })
            }
        },
        kind: match &event.kind {
            host::EventKind::Act(action) => wit::EventKind::Act(action_to_wit(*action)),
            host::EventKind::Delivered => wit::EventKind::Delivered,
            host::EventKind::NotDelivered(why) => wit::EventKind::NotDelivered(why.clone()),
            host::EventKind::NotAnswered => wit::EventKind::NotAnswered,
        },
        via: event.via.clone(),
    }
}

fn event_from_wit(event: wit::InboundEvent) -> host::InboundEvent {
    host::InboundEvent {
        target: match event.target {
            wit::Target::ThisNotification => host::EventTarget::ThisNotification,
            wit::Target::ProviderId(id) => host::EventTarget::ProviderId(id),
            wit::Target::ReplyFrom(from) => host::EventTarget::ReplyFrom {
                phone_number: from.phone_number,
                code: from.code,
            },
        },
        kind: match event.kind {
            wit::EventKind::Act(action) => host::EventKind::Act(action_from_wit(action)),
            wit::EventKind::Delivered => host::EventKind::Delivered,
            wit::EventKind::NotDelivered(why) => host::EventKind::NotDelivered(why),
            wit::EventKind::NotAnswered => host::EventKind::NotAnswered,
        },
        via: event.via,
    }
}

pub(super) fn outcomes_to_wit(outcomes: &[host::Outcome]) -> Vec<wit::Outcome> {
    outcomes
        .iter()
        .map(|outcome| wit::Outcome {
            event: event_to_wit(&outcome.event),
            text: outcome.text.clone(),
            ok: outcome.ok,
        })
        .collect()
}

pub(super) fn reply_from_wit(reply: wit::InboundReply) -> host::InboundReply {
    host::InboundReply {
        status: reply.status,
        headers: reply.headers,
        body: reply.body,
        events: reply.events.into_iter().map(event_from_wit).collect(),
    }
}
