//! `server users ...` and `server api-keys ...`: managing who may sign in and which keys
//! scripts use. They talk to the metadata store directly (the server may be running; both
//! stores take concurrent writers). Secrets are read from standard input, never from flags
//! (which `ps` and shell histories show).

use std::io::BufRead as _;
use std::sync::Arc;

use app::model::NewApiKey;

use crate::config::{ApiKeysCommand, UsersCommand};
use crate::service::auth::Auth;
use crate::store::AssetStore;

pub async fn users(
    command: &UsersCommand,
    assets: Arc<dyn AssetStore>,
    auth: Auth,
) -> anyhow::Result<()> {
    match command {
        UsersCommand::Add { name, admin } => {
            let password = read_password()?;
            let user = auth.add_user(name, &password, *admin).await?;
            println!(
                "added user {}{}",
                user.name,
                if user.admin { " (admin)" } else { "" }
            );
            if user.admin && auth.first_admin().await?.as_deref() == Some(name.as_str()) {
                let adopted = assets.adopt_unowned(name).await?;
                if adopted > 0 {
                    println!("{adopted} assets stored before owners existed now belong to {name}");
                }
            }
        }
        UsersCommand::Passwd { name } => {
            let password = read_password()?;
            auth.set_password(name, &password).await?;
            println!("password of {name} changed; their sessions ended");
        }
        UsersCommand::List => {
            println!("{:<32} {:<6} created", "name", "admin");
            for user in auth.list_users().await? {
                println!(
                    "{:<32} {:<6} {}",
                    user.name,
                    if user.admin { "yes" } else { "no" },
                    user.created_at
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                );
            }
        }
        UsersCommand::Remove { name } => {
            auth.remove_user(name).await?;
            println!("removed user {name} and their API keys");
        }
    }
    Ok(())
}

pub async fn api_keys(command: &ApiKeysCommand, auth: Auth) -> anyhow::Result<()> {
    let time =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    match command {
        ApiKeysCommand::Create {
            user,
            label,
            expires_in_days,
        } => {
            let created = auth
                .create_key(
                    user,
                    NewApiKey {
                        label: label.clone(),
                        expires_in_days: *expires_in_days,
                    },
                )
                .await?;
            let key = &created.key;
            println!(
                "created API key {} for {} ({})",
                key.key_id, key.user, key.label
            );
            if let Some(at) = key.expires_at {
                println!("expires {}", time(at));
            }
            println!("the secret (shown only now) is on the next line:");
            println!("{}", created.secret);
        }
        ApiKeysCommand::List { user } => {
            println!(
                "{:<16} {:<24} {:<24} {:<20} {:<20} expires",
                "key_id", "user", "label", "created", "last_used"
            );
            for key in auth.list_keys(user.as_deref()).await? {
                println!(
                    "{:<16} {:<24} {:<24} {:<20} {:<20} {}",
                    key.key_id,
                    key.user,
                    key.label,
                    time(key.created_at),
                    key.last_used_at.map_or("-".into(), time),
                    key.expires_at.map_or("never".into(), time),
                );
            }
        }
        ApiKeysCommand::Revoke { key_id } => {
            auth.revoke_key(key_id, None).await?;
            println!("revoked API key {key_id}");
        }
    }
    Ok(())
}

/// One line from standard input, without its line ending.
fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\n', '\r']).to_string();
    anyhow::ensure!(
        !password.is_empty(),
        "give the password on standard input (one line)"
    );
    Ok(password)
}
