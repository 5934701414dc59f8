//! Accounts: creation, passwords (argon2id), profile changes, listing. A changed password
//! or a deactivation ends the account's sessions and API tokens in the same transaction.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::db::schema::{api_tokens, sessions, users};
use crate::db::stored_time::StoredTime;
use crate::db::{DbConnection, write_transaction};
use crate::error::{Error, Result};
use crate::model::ids::{UserId, any_id};
use crate::model::text::{self, like_pattern};
use crate::timestamp;

pub const MIN_PASSWORD_CHARS: usize = 8;
const MAX_PASSWORD_BYTES: usize = 1024;

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = users)]
pub struct User {
    pub id: UserId,
    pub login: String,
    pub name: String,
    pub email: String,
    #[serde(skip)]
    pub password_hash: String,
    pub is_admin: bool,
    pub active: bool,
    pub email_notifications: bool,
    /// The zone the user reads times in (an IANA name); `None`: the browser's.
    pub time_zone: Option<String>,
    #[serde(serialize_with = "timestamp::serialize_utc")]
    #[diesel(deserialize_as = StoredTime)]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "timestamp::serialize_utc")]
    #[diesel(deserialize_as = StoredTime)]
    pub updated_at: NaiveDateTime,
}

/// What other users may see of a user (no e-mail address).
#[derive(Debug, Clone, Queryable, Selectable, Serialize, PartialEq, Eq)]
#[diesel(table_name = users)]
pub struct UserSummary {
    pub id: UserId,
    pub login: String,
    pub name: String,
}

/// A new account, as requested from outside; `create` validates it.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub login: String,
    pub name: String,
    pub email: String,
    pub password: String,
    pub is_admin: bool,
}

/// Changes to an account; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserUpdate {
    pub name: Option<String>,
    pub email: Option<String>,
    pub password: Option<String>,
    pub is_admin: Option<bool>,
    pub active: Option<bool>,
    pub email_notifications: Option<bool>,
    /// An IANA zone name; empty: the browser's zone.
    pub time_zone: Option<String>,
}

/// A time zone of the IANA database (`Europe/Berlin`, `UTC`), or `None` for empty text: the
/// zone the reader's browser is in.
pub fn parse_time_zone(text: &str) -> Result<Option<String>> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    match text.parse::<chrono_tz::Tz>() {
        Ok(zone) => Ok(Some(zone.name().to_string())),
        Err(_) => Err(Error::invalid(
            "time_zone",
            format!("{text:?} is not a time zone of the IANA database (such as Europe/Berlin or UTC)"),
        )),
    }
}

/// A login name: 2-64 of `a-z 0-9 . _ -`, starting with a letter or digit.
pub fn parse_login(login: &str) -> Result<String> {
    let login = login.trim().to_ascii_lowercase();
    let valid_chars =
        login.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    let starts_well = login.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if !(2..=64).contains(&login.len()) || !valid_chars || !starts_well {
        return Err(Error::invalid(
            "login",
            "must be 2-64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit",
        ));
    }
    Ok(login)
}

fn check_password(password: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(Error::invalid("password", format!("must have at least {MIN_PASSWORD_CHARS} characters")));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(Error::invalid("password", format!("must be at most {MAX_PASSWORD_BYTES} bytes")));
    }
    Ok(())
}

pub fn hash_password(password: &str) -> Result<String> {
    let hash = Argon2::default()
        .hash_password(password.as_bytes())
        .map_err(|error| Error::internal("hashing a password", error.to_string()))?;
    Ok(hash.to_string())
}

/// Constant work whether or not the stored hash parses, so timing tells nothing.
pub fn verify_password(password: &str, stored_hash: &str) -> bool {
    match PasswordHash::new(stored_hash) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// The SHA-256 digest under which a session or API token secret is stored.
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A random password for generated accounts (first admin, `user passwd` without input).
pub fn random_password() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..20).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

pub fn create(connection: &mut DbConnection, new_user: NewUser) -> Result<User> {
    let login = parse_login(&new_user.login)?;
    let name = text::single_line("name", &new_user.name, 1, 200)?;
    let email = text::email("email", &new_user.email)?;
    check_password(&new_user.password)?;
    let password_hash = hash_password(&new_user.password)?;
    write_transaction(connection, |connection| {
        let exists: i64 = users::table.filter(users::login.eq(&login)).count().get_result(connection)?;
        if exists > 0 {
            return Err(Error::Conflict(format!("a user with login {login:?} already exists")));
        }
        let id: UserId = diesel::insert_into(users::table)
            .values((
                users::login.eq(&login),
                users::name.eq(&name),
                users::email.eq(&email),
                users::password_hash.eq(&password_hash),
                users::is_admin.eq(new_user.is_admin),
            ))
            .returning(users::id)
            .get_result(connection)?;
        get(connection, id)
    })
}

pub fn get(connection: &mut DbConnection, id: UserId) -> Result<User> {
    find(connection, id)?.ok_or_else(|| Error::not_found(format!("user {id}")))
}

/// The account with this id, if any.
pub fn find(connection: &mut DbConnection, id: UserId) -> Result<Option<User>> {
    Ok(users::table.find(id).select(User::as_select()).first(connection).optional()?)
}

/// The account with this login, if any; text that is no login finds nobody without a query.
pub fn find_by_login(connection: &mut DbConnection, login: &str) -> Result<Option<User>> {
    let Ok(login) = parse_login(login) else {
        return Ok(None);
    };
    Ok(users::table.filter(users::login.eq(login)).select(User::as_select()).first(connection).optional()?)
}

diesel::define_sql_function!(fn lower(text: diesel::sql_types::Text) -> diesel::sql_types::Text);

/// Active accounts whose login, name or e-mail address holds `text` (without regard to case),
/// by login, at most `limit`: whom a project's manager looks for to add as a member. Only the
/// login and name are returned, not the address.
pub fn matching(connection: &mut DbConnection, text: &str, limit: i64) -> Result<Vec<UserSummary>> {
    if text.trim().is_empty() || text.contains('\0') {
        return Ok(Vec::new());
    }
    let pattern = like_pattern(text);
    Ok(users::table
        .filter(users::active.eq(true))
        .filter(
            lower(users::login)
                .like(&pattern)
                .escape('\\')
                .or(lower(users::name).like(&pattern).escape('\\'))
                .or(lower(users::email).like(&pattern).escape('\\')),
        )
        .order(users::login.asc())
        .limit(limit)
        .select(UserSummary::as_select())
        .load(connection)?)
}

/// The account with this e-mail address (compared without case), if any.
pub fn find_by_email(connection: &mut DbConnection, email: &str) -> Result<Option<User>> {
    // No stored address holds a NUL, and PostgreSQL refuses the lookup of one.
    if email.contains('\0') {
        return Ok(None);
    }
    Ok(users::table
        .filter(lower(users::email).eq(email.trim().to_lowercase()))
        .order(users::id.asc())
        .select(User::as_select())
        .first(connection)
        .optional()?)
}

pub fn list(connection: &mut DbConnection) -> Result<Vec<User>> {
    Ok(users::table.order(users::login.asc()).select(User::as_select()).load(connection)?)
}

pub fn count(connection: &mut DbConnection) -> Result<i64> {
    Ok(users::table.count().get_result(connection)?)
}

/// Summaries of the given users (in no particular order), for embedding in item and comment
/// views: one query, kept prepared by the connection.
pub fn summaries(connection: &mut DbConnection, ids: &[UserId]) -> Result<Vec<UserSummary>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(users::table.filter(any_id(users::id, ids)).select(UserSummary::as_select()).load(connection)?)
}

/// An administrator's (or the command line's) change to an account. A new password or a
/// deactivation signs the user out everywhere and revokes their API tokens.
pub fn update(connection: &mut DbConnection, id: UserId, changes: UserUpdate) -> Result<User> {
    apply(connection, id, changes, None)
}

/// Applies the changes; `keep_session` names the one session a password change leaves signed in.
fn apply(connection: &mut DbConnection, id: UserId, changes: UserUpdate, keep_session: Option<&str>) -> Result<User> {
    let name = changes.name.as_deref().map(|name| text::single_line("name", name, 1, 200)).transpose()?;
    let email = changes.email.as_deref().map(|email| text::email("email", email)).transpose()?;
    let time_zone = changes.time_zone.as_deref().map(parse_time_zone).transpose()?;
    let password_hash = match &changes.password {
        Some(password) => {
            check_password(password)?;
            Some(hash_password(password)?)
        }
        None => None,
    };
    write_transaction(connection, |connection| {
        let current = get(connection, id)?;
        if current.is_admin && (changes.is_admin == Some(false) || changes.active == Some(false)) {
            let other_active_admins: i64 = users::table
                .filter(users::is_admin.eq(true))
                .filter(users::active.eq(true))
                .filter(users::id.ne(id))
                .count()
                .get_result(connection)?;
            if other_active_admins == 0 {
                return Err(Error::Conflict(
                    "this is the last active administrator: make another user an administrator first".into(),
                ));
            }
        }
        diesel::update(users::table.find(id))
            .set((
                users::name.eq(name.unwrap_or(current.name)),
                users::email.eq(email.unwrap_or(current.email)),
                users::password_hash.eq(password_hash.unwrap_or(current.password_hash)),
                users::is_admin.eq(changes.is_admin.unwrap_or(current.is_admin)),
                users::active.eq(changes.active.unwrap_or(current.active)),
                users::email_notifications.eq(changes.email_notifications.unwrap_or(current.email_notifications)),
                users::time_zone.eq(time_zone.unwrap_or(current.time_zone)),
                users::updated_at.eq(diesel::dsl::now),
            ))
            .execute(connection)?;
        if changes.password.is_some() || changes.active == Some(false) {
            revoke_credentials(connection, id, keep_session)?;
        }
        get(connection, id)
    })
}

/// Ends everything that lets the user in without the password: every session except `keep`
/// (the session that changed its own password stays signed in) and every personal API token
/// (deleted, so that reactivating the account later revives none). For the transaction that
/// changes the password or deactivates the account.
fn revoke_credentials(connection: &mut DbConnection, user_id: UserId, keep: Option<&str>) -> Result<()> {
    let sessions_of_user = sessions::table.filter(sessions::user_id.eq(user_id));
    match keep {
        Some(secret) => {
            diesel::delete(sessions_of_user.filter(sessions::id_hash.ne(digest(secret)))).execute(connection)?
        }
        None => diesel::delete(sessions_of_user).execute(connection)?,
    };
    diesel::delete(api_tokens::table.filter(api_tokens::user_id.eq(user_id))).execute(connection)?;
    Ok(())
}

/// A user's change to their own account: name, e-mail, notifications and password; a new
/// password needs the current one, and ends every other session and every API token of the
/// user (`session`, the secret of the session the change comes from, stays signed in).
pub fn update_own(
    connection: &mut DbConnection,
    actor: &User,
    changes: UserUpdate,
    current_password: Option<&str>,
    session: Option<&str>,
) -> Result<User> {
    if changes.is_admin.is_some() || changes.active.is_some() {
        return Err(Error::forbidden("only administrators change the administrator and active flags"));
    }
    if changes.password.is_some() && !verify_password(current_password.unwrap_or_default(), &actor.password_hash) {
        return Err(Error::invalid("current_password", "is wrong"));
    }
    apply(connection, actor.id, changes, session)
}

/// On a database without users, creates `admin` with the given or a random password.
/// Returns the password when an account was created. Safe when several nodes start at once.
pub fn ensure_first_admin(connection: &mut DbConnection, password: Option<String>) -> Result<Option<String>> {
    if count(connection)? > 0 {
        return Ok(None);
    }
    let password = password.unwrap_or_else(random_password);
    let created = create(
        connection,
        NewUser {
            login: "admin".into(),
            name: "Administrator".into(),
            email: "admin@example.com".into(),
            password: password.clone(),
            is_admin: true,
        },
    );
    match created {
        Ok(_) => Ok(Some(password)),
        // Another node created it between our count and our insert.
        Err(Error::Conflict(_)) => Ok(None),
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_are_normalised_and_checked() {
        assert_eq!(parse_login(" Ann.Lee ").unwrap(), "ann.lee");
        assert!(parse_login("a").is_err());
        assert!(parse_login("-ann").is_err());
        assert!(parse_login("ann lee").is_err());
        assert!(parse_login("../etc").is_err());
    }

    #[test]
    fn password_hash_verifies_only_the_same_password() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
    }
}
