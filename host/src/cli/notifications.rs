use anyhow::Context;
use clap::Subcommand;
use uuid::Uuid;

use emu_oncall::model::Status;
use emu_oncall::store::notifications::NotificationFilter;
use emu_oncall::store::Store;

#[derive(Debug, Subcommand)]
pub enum NotificationsCommand {
    /// List notifications, newest first.
    List {
        /// pending, delivering, delivered, failed or dead.
        #[arg(long)]
        status: Option<String>,
        /// Only this user's (by email).
        #[arg(long)]
        user: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// Show one notification in full, with its delivery attempts and inbound events.
    Show { id: String },
    /// Queue a failed or dead notification again, with a fresh attempt budget.
    Retry { id: String },
}

pub async fn run(store: &Store, command: NotificationsCommand) -> anyhow::Result<()> {
    match command {
        NotificationsCommand::List {
            status,
            user,
            limit,
            json,
        } => {
            let filter = NotificationFilter {
                status: status.as_deref().map(str::parse::<Status>).transpose()?,
                user_email: user,
                limit,
            };
            let notifications = store.list_notifications(&filter).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&notifications)?);
                return Ok(());
            }
            println!(
                "{:<36} {:<6} {:<10} {:<16} {:<25} MESSAGE",
                "ID", "CHAN", "STATUS", "USER", "CREATED"
            );
            for n in notifications {
                let message: String = n
                    .message
                    .chars()
                    .take(60)
                    .collect::<String>()
                    .replace('\n', " ");
                println!(
                    "{:<36} {:<6} {:<10} {:<16} {:<25} {}",
                    n.id,
                    n.channel.as_str(),
                    n.status.as_str(),
                    n.user_id.as_deref().unwrap_or("-"),
                    n.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
                    message
                );
            }
        }
        NotificationsCommand::Retry { id } => {
            let id: Uuid = id
                .parse()
                .with_context(|| format!("{id:?} is not a notification id"))?;
            store.retry_notification(id).await?;
            println!("notification {id} queued again; a running server delivers it within its poll interval");
        }
        NotificationsCommand::Show { id } => {
            let id: Uuid = id
                .parse()
                .with_context(|| format!("{id:?} is not a notification id"))?;
            let notification = store
                .get_notification(id)
                .await?
                .with_context(|| format!("no notification {id}"))?;
            let mut shown = serde_json::to_value(&notification)?;
            shown["attempts"] = serde_json::to_value(store.attempts(id).await?)?;
            // Key presses, replies, buttons and receipts, with what came of each.
            shown["inbound_events"] = serde_json::to_value(store.inbound_events(id).await?)?;
            println!("{}", serde_json::to_string_pretty(&shown)?);
        }
    }
    Ok(())
}
