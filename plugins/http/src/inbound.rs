//! Answering the provider's call to the page's reply URL with a document rendered from
//! the page: what a voice provider fetches when the call is answered (Plivo's
//! `answer_url` wants XML with `<Speak>`). The reply URL is signed for one page and
//! expires, so only the provider given it can fetch the page's text.

use emu_oncall_plugin_sdk::{InboundReply, InboundRequest};

use crate::settings::View;
use crate::templates;

const DEFAULT_CONTENT_TYPE: &str = "application/xml";

pub fn answer(config: &emu_oncall_plugin_sdk::Config, request: InboundRequest) -> InboundReply {
    let Some(notification) = request.notification else {
        return InboundReply::text(404, "this plugin answers only a page's reply URL");
    };
    let settings = View::for_channel(config, notification.channel.as_str());
    let Some(source) = settings.get("inbound.body") else {
        return InboundReply::text(404, "no inbound.body is configured for this channel");
    };
    let env = templates::environment();
    let context = templates::context(&notification, &settings);
    match templates::render(&env, "inbound.body", source, &context) {
        Ok(body) => InboundReply {
            status: 200,
            headers: vec![(
                "content-type".to_owned(),
                settings
                    .get("inbound.content_type")
                    .unwrap_or(DEFAULT_CONTENT_TYPE)
                    .to_owned(),
            )],
            body: body.into_bytes(),
            events: Vec::new(),
        },
        Err(err) => {
            emu_oncall_plugin_sdk::log::error(&err);
            InboundReply::text(500, "the answer could not be rendered")
        }
    }
}
