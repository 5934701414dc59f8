//! `baton user`: create accounts, set passwords, list accounts.

use std::io::{BufRead, IsTerminal};

use clap::Subcommand;

use crate::app::open_database;
use crate::config::Settings;
use crate::model::user::{self, NewUser, UserUpdate};

#[derive(Debug, Subcommand)]
pub(super) enum UserCommand {
    /// Create an account. The password is read from standard input when it is not a
    /// terminal; otherwise a random one is generated and printed.
    Create {
        login: String,
        #[arg(long)]
        admin: bool,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        email: Option<String>,
    },
    /// Set a new password (read from standard input, or generated and printed).
    Passwd { login: String },
    /// List accounts.
    List,
}

fn read_or_generate_password() -> Result<(String, bool), String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Ok((user::random_password(), true));
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|error| format!("cannot read the password from standard input: {error}"))?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        return Err(
            "standard input gave an empty password: pipe the password in, or run in a terminal to generate one".into(),
        );
    }
    Ok((password, false))
}

pub(super) fn run(settings: &Settings, command: UserCommand) -> Result<(), String> {
    let database = open_database(settings).map_err(|error| error.to_string())?;
    let mut connection = database.get().map_err(|error| error.to_string())?;
    match command {
        UserCommand::Create { login, admin, name, email } => {
            let (password, generated) = read_or_generate_password()?;
            let login = user::parse_login(&login).map_err(|error| error.to_string())?;
            let created = user::create(
                &mut connection,
                NewUser {
                    name: name.unwrap_or_else(|| login.clone()),
                    email: email.unwrap_or_else(|| format!("{login}@example.com")),
                    login,
                    password: password.clone(),
                    is_admin: admin,
                },
            )
            .map_err(|error| error.to_string())?;
            println!(
                "created user {} (id {}){}",
                created.login,
                created.id,
                if admin { ", administrator" } else { "" }
            );
            if generated {
                println!("password: {password}");
            }
            Ok(())
        }
        UserCommand::Passwd { login } => {
            let found = user::find_by_login(&mut connection, &login)
                .map_err(|error| error.to_string())?
                .ok_or_else(|| format!("there is no user {login:?}: see `baton user list`"))?;
            let (password, generated) = read_or_generate_password()?;
            user::update(
                &mut connection,
                found.id,
                UserUpdate { password: Some(password.clone()), ..UserUpdate::default() },
            )
            .map_err(|error| error.to_string())?;
            println!(
                "password of {} changed; their sessions were signed out and their API tokens revoked",
                found.login
            );
            if generated {
                println!("password: {password}");
            }
            Ok(())
        }
        UserCommand::List => {
            let users = user::list(&mut connection).map_err(|error| error.to_string())?;
            println!("{:<6} {:<24} {:<8} {:<7} NAME", "ID", "LOGIN", "ADMIN", "ACTIVE");
            for user in users {
                println!(
                    "{:<6} {:<24} {:<8} {:<7} {}",
                    user.id,
                    user.login,
                    if user.is_admin { "yes" } else { "no" },
                    if user.active { "yes" } else { "no" },
                    user.name
                );
            }
            Ok(())
        }
    }
}
