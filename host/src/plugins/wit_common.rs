//! What every contract version shares: the WIT types that did not change between
//! versions are still distinct Rust types per version, so each version's module expands
//! this macro for its own bindings instead of repeating the conversions by hand.

/// Expands, inside a version's module, the conversions of the types every version has
/// (channel, recipient, alert group, plugin info, receipt and failure) and its `log`
/// import. Expects `wit` (its types), `host` (`plugins::types`) and `domain` (`model`)
/// in scope.
macro_rules! conversions_every_version_shares {
    () => {
        fn channel_from_wit(channel: wit::Channel) -> domain::Channel {
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

        pub(super) fn description_from_wit(info: wit::PluginInfo) -> host::Description {
            host::Description {
                name: info.name,
                version: info.version,
                channels: info.channels.into_iter().map(channel_from_wit).collect(),
            }
        }

        pub(super) fn delivery_from_wit(
            result: Result<wit::Receipt, wit::Failure>,
        ) -> Result<domain::Receipt, host::Refusal> {
            match result {
                Ok(receipt) => Ok(domain::Receipt {
                    provider_id: receipt.provider_id,
                    detail: receipt.detail,
                }),
                Err(wit::Failure::Retryable(reason)) => Err(host::Refusal::Retryable(reason)),
                Err(wit::Failure::Permanent(reason)) => Err(host::Refusal::Permanent(reason)),
            }
        }

        impl self::emu_oncall::notifier::log::Host for super::sandbox::PluginState {
            fn log(&mut self, level: self::emu_oncall::notifier::log::Level, message: String) {
                use self::emu_oncall::notifier::log::Level;
                let level = match level {
                    Level::Trace => super::sandbox::LogLevel::Trace,
                    Level::Debug => super::sandbox::LogLevel::Debug,
                    Level::Info => super::sandbox::LogLevel::Info,
                    Level::Warn => super::sandbox::LogLevel::Warn,
                    Level::Error => super::sandbox::LogLevel::Error,
                };
                self.log_line(level, message);
            }
        }
    };
}

pub(super) use conversions_every_version_shares;
