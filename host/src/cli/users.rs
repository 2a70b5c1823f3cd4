use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Subcommand;
use serde_json::{Map, Value};

use emu_oncall::model::{PhoneNumber, Region, Role};
use emu_oncall::store::users::{NewUser, User, UserUpdate};
use emu_oncall::store::Store;

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add a user (the email must match the user's email in OnCall).
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        username: String,
        #[arg(long, default_value = "")]
        name: String,
        /// In international form, e.g. +4915112345678, or national when
        /// `users.default_region` is set.
        #[arg(long)]
        phone: Option<String>,
        /// admin, user or observer.
        #[arg(long, default_value = "user")]
        role: String,
        /// A free attribute for plugins, e.g. --attr telegram_chat_id=12345 (repeatable).
        #[arg(long = "attr", value_name = "KEY=VALUE")]
        attributes: Vec<String>,
    },
    /// List users (phone numbers masked; --json shows them in full).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Change a user, found by id or email.
    Update {
        /// The user's id or email.
        user: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        username: Option<String>,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, conflicts_with = "clear_phone")]
        phone: Option<String>,
        /// Remove the phone number (the user is then no longer verified).
        #[arg(long)]
        clear_phone: bool,
        #[arg(long)]
        role: Option<String>,
        #[arg(long)]
        active: Option<bool>,
        #[arg(long = "attr", value_name = "KEY=VALUE")]
        attributes: Vec<String>,
        #[arg(long = "unset-attr", value_name = "KEY")]
        unset_attributes: Vec<String>,
    },
    /// Remove a user, found by id or email.
    Remove { user: String },
    /// Create or update users from a CSV file with a header row:
    /// email,username[,name][,phone][,role][,attr.KEY...]
    Import { file: PathBuf },
    /// Print a user's phone-verification page (`/verify/<secret>` on this server): what
    /// OnCall's "Verify in Cloud" link opens. Whoever has it can ask for codes.
    Link {
        /// The user's id or email.
        user: String,
    },
    /// Give a user a new verification link: the old one stops working at once, and
    /// OnCall shows the new one after its next user sync.
    RotateLink {
        /// The user's id or email.
        user: String,
    },
}

fn parse_attributes(pairs: &[String]) -> anyhow::Result<Map<String, Value>> {
    let mut attributes = Map::new();
    for pair in pairs {
        let Some((key, value)) = pair.split_once('=') else {
            bail!("--attr {pair:?}: expected KEY=VALUE");
        };
        let key = key.trim();
        if key.is_empty() {
            bail!("--attr {pair:?}: the key is empty");
        }
        attributes.insert(key.to_owned(), Value::String(value.to_owned()));
    }
    Ok(attributes)
}

/// `region`: `users.default_region`, for numbers typed without a country code.
pub async fn run(
    store: &Store,
    command: UsersCommand,
    region: Option<Region>,
) -> anyhow::Result<()> {
    match command {
        UsersCommand::Add {
            email,
            username,
            name,
            phone,
            role,
            attributes,
        } => {
            let user = store
                .create_user(NewUser {
                    email,
                    username,
                    name,
                    phone_number: PhoneNumber::parse_optional(phone.as_deref(), region)?,
                    role: role.parse()?,
                    attributes: parse_attributes(&attributes)?,
                })
                .await?;
            println!(
                "added {} <{}> ({})",
                user.id,
                user.email,
                verified_text(&user)
            );
        }
        UsersCommand::List { json } => {
            let users = store.list_users().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&users)?);
            } else {
                print_table(&users);
            }
        }
        UsersCommand::Update {
            user,
            email,
            username,
            name,
            phone,
            clear_phone,
            role,
            active,
            attributes,
            unset_attributes,
        } => {
            let mut attributes = parse_attributes(&attributes)?;
            for key in unset_attributes {
                attributes.insert(key, Value::Null);
            }
            let update = UserUpdate {
                email,
                username,
                name,
                phone_number: if clear_phone {
                    Some(None)
                } else {
                    phone
                        .map(|typed| PhoneNumber::parse_optional(Some(&typed), region))
                        .transpose()?
                },
                role: role.as_deref().map(str::parse::<Role>).transpose()?,
                active,
                attributes,
            };
            let user = store.update_user(&user, update).await?;
            println!(
                "updated {} <{}> ({})",
                user.id,
                user.email,
                verified_text(&user)
            );
        }
        UsersCommand::Link { user: key } => {
            let user = store
                .find_user(&key)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no user {key}"))?;
            println!("/verify/{}", user.link_id);
        }
        UsersCommand::RotateLink { user } => {
            let user = store.rotate_link(&user).await?;
            println!(
                "new verification link for {}: /verify/{}\nthe old one no longer works; OnCall shows the new one after its next user sync (Settings → Cloud → Sync users)",
                user.email, user.link_id
            );
        }
        UsersCommand::Remove { user } => {
            let user = store.remove_user(&user).await?;
            println!("removed {} <{}>", user.id, user.email);
        }
        UsersCommand::Import { file } => {
            let users = read_csv(&file, region)?;
            let count = users.len();
            let (created, updated) = store
                .import_users(users)
                .await
                .with_context(|| format!("importing {} (nothing was changed)", file.display()))?;
            println!(
                "imported {count} users from {}: {created} added, {updated} updated",
                file.display()
            );
        }
    }
    Ok(())
}

/// Numbers set here are an admin's, so they count as verified in either mode.
fn verified_text(user: &User) -> String {
    match (&user.phone_number, user.phone_verified_at) {
        (Some(phone), Some(_)) => format!("phone {phone}, verified"),
        (Some(phone), None) => {
            format!("phone {phone}, not confirmed (verified only in trust mode)")
        }
        (None, _) => "no phone, not verified".to_owned(),
    }
}

fn print_table(users: &[User]) {
    println!(
        "{:<16} {:<32} {:<20} {:<9} {:<16} {:<10} ACTIVE",
        "ID", "EMAIL", "USERNAME", "ROLE", "PHONE", "CONFIRMED"
    );
    for user in users {
        // Whether the number was confirmed by its owner's code or set by an admin; in
        // trust mode every number counts, confirmed or not.
        let confirmed = match (&user.phone_number, user.phone_verified_at) {
            (None, _) => "-",
            (Some(_), Some(_)) => "yes",
            (Some(_), None) => "no",
        };
        println!(
            "{:<16} {:<32} {:<20} {:<9} {:<16} {:<10} {}",
            user.id,
            user.email,
            user.username,
            user.role,
            user.phone_number
                .as_ref()
                .map_or_else(|| "-".to_owned(), PhoneNumber::masked),
            confirmed,
            if user.active { "yes" } else { "no" }
        );
    }
}

/// Reads the import file; every problem names its line.
pub fn read_csv(path: &std::path::Path, region: Option<Region>) -> anyhow::Result<Vec<NewUser>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let headers: Vec<String> = reader
        .headers()
        .with_context(|| format!("{}: cannot read the header row", path.display()))?
        .iter()
        .map(|header| header.to_ascii_lowercase())
        .collect();
    for header in &headers {
        let known = matches!(
            header.as_str(),
            "email" | "username" | "name" | "phone" | "phone_number" | "role"
        ) || header
            .strip_prefix("attr.")
            .is_some_and(|key| !key.is_empty());
        if !known {
            bail!(
                "{}: unknown column {header:?}; use email, username, name, phone, role or attr.KEY",
                path.display()
            );
        }
    }
    for required in ["email", "username"] {
        if !headers.iter().any(|header| header == required) {
            bail!(
                "{}: the header row has no {required:?} column",
                path.display()
            );
        }
    }
    let mut users = Vec::new();
    for record in reader.records() {
        let record = record.with_context(|| format!("{}: bad CSV", path.display()))?;
        let line = record.position().map(|pos| pos.line()).unwrap_or(0);
        let field = |name: &str| -> Option<String> {
            headers
                .iter()
                .position(|header| header == name)
                .and_then(|index| record.get(index))
                .map(str::to_owned)
                .filter(|value| !value.is_empty())
        };
        let mut attributes = Map::new();
        for (index, header) in headers.iter().enumerate() {
            if let (Some(key), Some(value)) = (header.strip_prefix("attr."), record.get(index)) {
                if !value.is_empty() {
                    attributes.insert(key.to_owned(), Value::String(value.to_owned()));
                }
            }
        }
        let role = match field("role") {
            Some(role) => role
                .parse()
                .with_context(|| format!("{} line {line}", path.display()))?,
            None => Role::User,
        };
        let new = NewUser {
            email: field("email").unwrap_or_default(),
            username: field("username").unwrap_or_default(),
            name: field("name").unwrap_or_default(),
            phone_number: PhoneNumber::parse_optional(
                field("phone").or_else(|| field("phone_number")).as_deref(),
                region,
            )
            .with_context(|| format!("{} line {line}", path.display()))?,
            role,
            attributes,
        }
        .validate()
        .with_context(|| format!("{} line {line}", path.display()))?;
        users.push(new);
    }
    Ok(users)
}
