//! Signing in: database-held sessions (so any node serves any request), personal API
//! tokens, and the sign-in rate limit per account and per client address. Secrets are
//! stored only as SHA-256 digests.

use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use rand::RngCore;
use serde::Serialize;

use crate::config::sessions::SessionSettings;
use crate::db::schema::{api_tokens, login_failures, sessions, users};
use crate::db::{DbConnection, database_now, first_by_type, write_transaction};
use crate::error::{Error, Result};
use crate::model::definitions::{CurrentVersion, Version};
use crate::model::ids::{TokenId, UserId};
use crate::model::text;
use crate::model::user::{self, User, digest};
use crate::timestamp;

/// A fixed argon2 hash checked when the login is unknown, so that a wrong login takes as
/// long as a wrong password and timing does not reveal which accounts exist.
const DUMMY_PASSWORD_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$9LOZ4eJ4o8gnN6Qu0n5U0Yhh6yLbPtpmdo5d3Fa8yvk";

pub const TOKEN_PREFIX: &str = "baton_";

/// The one answer to a failed sign-in, whichever part was wrong.
const WRONG_CREDENTIALS: &str = "wrong login or password";

/// What a successful sign-in hands to the client.
#[derive(Debug, Clone)]
pub struct SessionGrant {
    /// The cookie value; only its digest is stored.
    pub secret: String,
    pub csrf_token: String,
    pub user: User,
    pub lifetime: Duration,
}

/// A signed-in session as found from its cookie.
#[derive(Debug, Clone)]
pub struct ActiveSession {
    pub user: User,
    pub csrf_token: String,
    /// The definitions' version, read with the session (see `SignedIn`).
    pub definitions: Version,
}

/// The user behind a bearer token, and the version of the definitions (fields, workflow)
/// read in the same statement: a request that needs them then reads no version of its own
/// (on PostgreSQL a statement fewer; a list pays for about a twentieth of its time per one).
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: User,
    pub definitions: Version,
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = api_tokens)]
pub struct ApiToken {
    pub id: TokenId,
    pub name: String,
    #[serde(serialize_with = "timestamp::serialize_utc")]
    pub created_at: NaiveDateTime,
}

fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn seconds(duration: Duration) -> chrono::Duration {
    chrono::Duration::seconds(i64::try_from(duration.as_secs()).unwrap_or(i64::MAX / 1000))
}

/// Checks the password, within the rate limit, and opens a session.
pub fn sign_in(
    connection: &mut DbConnection,
    login: &str,
    password: &str,
    address: &str,
    settings: &SessionSettings,
) -> Result<SessionGrant> {
    // Text that is no login (a NUL, 5,000 characters) matches no account: answered at once,
    // as nothing is there to guess, and never written to the failure log.
    let Ok(login) = user::parse_login(login) else {
        return Err(Error::Unauthenticated(WRONG_CREDENTIALS.into()));
    };
    let now = database_now(connection)?;
    let window_start = now - seconds(settings.lockout_window);
    let failures_for_login: i64 = login_failures::table
        .filter(login_failures::login.eq(&login))
        .filter(login_failures::failed_at.gt(window_start))
        .count()
        .get_result(connection)?;
    let failures_from_address: i64 = login_failures::table
        .filter(login_failures::address.eq(address))
        .filter(login_failures::failed_at.gt(window_start))
        .count()
        .get_result(connection)?;
    if failures_for_login >= i64::from(settings.max_failed_logins)
        || failures_from_address >= 2 * i64::from(settings.max_failed_logins)
    {
        return Err(Error::RateLimited(format!(
            "too many failed sign-ins; try again in {}",
            humantime::format_duration(settings.lockout_window)
        )));
    }

    let account = user::find_by_login(connection, &login)?;
    let password_matches = match &account {
        Some(account) => user::verify_password(password, &account.password_hash),
        None => user::verify_password(password, DUMMY_PASSWORD_HASH),
    };
    let account = match account {
        Some(account) if password_matches && account.active => account,
        _ => {
            write_transaction(connection, |connection| {
                diesel::insert_into(login_failures::table)
                    .values((login_failures::login.eq(&login), login_failures::address.eq(address)))
                    .execute(connection)?;
                diesel::delete(login_failures::table.filter(login_failures::failed_at.lt(window_start)))
                    .execute(connection)?;
                Ok(())
            })?;
            return Err(Error::Unauthenticated(WRONG_CREDENTIALS.into()));
        }
    };

    let secret = random_secret();
    let csrf_token = random_secret();
    write_transaction(connection, |connection| {
        diesel::delete(login_failures::table.filter(login_failures::login.eq(&login))).execute(connection)?;
        diesel::insert_into(sessions::table)
            .values((
                sessions::id_hash.eq(digest(&secret)),
                sessions::user_id.eq(account.id),
                sessions::csrf_token.eq(&csrf_token),
                sessions::expires_at.eq(now + seconds(settings.lifetime)),
            ))
            .execute(connection)?;
        Ok(())
    })?;
    Ok(SessionGrant { secret, csrf_token, user: account, lifetime: settings.lifetime })
}

/// The session behind a cookie value, if it exists, has not expired and its user is active.
pub fn find_session(connection: &mut DbConnection, secret: &str) -> Result<Option<ActiveSession>> {
    // Every page and cookie request asks this: the statement is cached by its type.
    let hash = digest(secret);
    let found: Option<(User, String, Option<String>)> = first_by_type!(
        connection,
        sessions::table
            .inner_join(users::table)
            .filter(sessions::id_hash.eq(&hash))
            .filter(sessions::expires_at.gt(diesel::dsl::now))
            .filter(users::active.eq(true))
            .select((User::as_select(), sessions::csrf_token, CurrentVersion))
    )
    .optional()?;
    found
        .map(|(user, csrf_token, version)| {
            Ok(ActiveSession { user, csrf_token, definitions: Version::of_row(version)? })
        })
        .transpose()
}

/// Removes expired sessions (the scheduled `session_cleanup` job); returns how many.
pub fn remove_expired_sessions(connection: &mut DbConnection) -> Result<usize> {
    let now = database_now(connection)?;
    Ok(diesel::delete(sessions::table.filter(sessions::expires_at.lt(now))).execute(connection)?)
}

pub fn sign_out(connection: &mut DbConnection, secret: &str) -> Result<()> {
    diesel::delete(sessions::table.filter(sessions::id_hash.eq(digest(secret)))).execute(connection)?;
    Ok(())
}

/// Creates a personal API token; the secret is returned once and never stored.
pub fn create_token(connection: &mut DbConnection, user_id: UserId, name: &str) -> Result<(ApiToken, String)> {
    let name = text::single_line("name", name, 1, 100)?;
    let secret = format!("{TOKEN_PREFIX}{}", random_secret());
    let id: TokenId = write_transaction(connection, |connection| {
        Ok(diesel::insert_into(api_tokens::table)
            .values((
                api_tokens::user_id.eq(user_id),
                api_tokens::name.eq(&name),
                api_tokens::token_hash.eq(digest(&secret)),
            ))
            .returning(api_tokens::id)
            .get_result(connection)?)
    })?;
    let token = api_tokens::table.find(id).select(ApiToken::as_select()).first(connection)?;
    Ok((token, secret))
}

pub fn list_tokens(connection: &mut DbConnection, user_id: UserId) -> Result<Vec<ApiToken>> {
    Ok(api_tokens::table
        .filter(api_tokens::user_id.eq(user_id))
        .order(api_tokens::id.asc())
        .select(ApiToken::as_select())
        .load(connection)?)
}

pub fn revoke_token(connection: &mut DbConnection, user_id: UserId, token_id: TokenId) -> Result<()> {
    let deleted =
        diesel::delete(api_tokens::table.filter(api_tokens::id.eq(token_id)).filter(api_tokens::user_id.eq(user_id)))
            .execute(connection)?;
    if deleted == 0 {
        return Err(Error::not_found(format!("token {token_id}")));
    }
    Ok(())
}

/// The active user owning a bearer token.
pub fn find_token_user(connection: &mut DbConnection, secret: &str) -> Result<Option<SignedIn>> {
    let Some(hash) = token_hash(secret) else { return Ok(None) };
    // Every API request asks this: the statement is cached by its type.
    let found: Option<(User, Option<String>)> = first_by_type!(
        connection,
        api_tokens::table
            .inner_join(users::table)
            .filter(api_tokens::token_hash.eq(&hash))
            .filter(users::active.eq(true))
            .select((User::as_select(), CurrentVersion))
    )
    .optional()?;
    found.map(|(user, version)| Ok(SignedIn { user, definitions: Version::of_row(version)? })).transpose()
}

/// The digest a bearer token is stored as; `None` for what cannot be a token.
pub fn token_hash(secret: &str) -> Option<String> {
    secret.starts_with(TOKEN_PREFIX).then(|| digest(secret))
}

/// The answer to a bearer token that is not (or no longer) an active user's.
pub fn token_refused() -> Error {
    Error::Unauthenticated("the API token is invalid or revoked".into())
}

#[cfg(test)]
mod tests {
    #[test]
    fn dummy_hash_is_a_valid_argon2_hash() {
        assert!(argon2::password_hash::phc::PasswordHash::new(super::DUMMY_PASSWORD_HASH).is_ok());
    }
}
