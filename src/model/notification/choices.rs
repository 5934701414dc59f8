//! What each user wants to be mailed about: which items (all items of their projects, the
//! items they are involved in — reported, assigned, watched — only mentions, or nothing),
//! which kinds of news, whether their own changes too, whether a mention makes them a
//! watcher, and whether their news comes as single mails or in one daily digest.

use std::collections::BTreeMap;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::db::DbConnection;
use crate::db::schema::users;
use crate::error::{Error, Result};
use crate::model::ids::{UserId, any_id};
use crate::model::user::User;

/// Which items a user hears about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Every item of every project they are a member of.
    All,
    /// Items they reported, are assigned to or watch (the default).
    Involved,
    /// Only where someone mentions them.
    Mentions,
    /// No notification mail at all.
    None,
}

impl Scope {
    /// As stored in `users.notify_scope` (`None` is `email_notifications = false`).
    fn stored(self) -> &'static str {
        match self {
            Scope::All => "all",
            Scope::Involved | Scope::None => "involved",
            Scope::Mentions => "mentions",
        }
    }
}

/// The kinds of news, as the choices and `users.notify_events` name them.
pub const KINDS: [&str; 7] = ["created", "commented", "status", "assigned", "updated", "mentioned", "linked"];

/// A user's choices, as `GET /api/v1/users/me/notifications` shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Choices {
    pub scope: Scope,
    /// Every kind in `KINDS`, on or off.
    pub events: BTreeMap<&'static str, bool>,
    pub own_changes: bool,
    /// Start watching an item when someone mentions them in it.
    pub watch_when_mentioned: bool,
    /// One daily digest (the `notification_digest` job) instead of a mail per change.
    pub digest: bool,
}

/// Changes to the choices; what is absent stays.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChoicesUpdate {
    pub scope: Option<Scope>,
    pub events: Option<BTreeMap<String, bool>>,
    pub own_changes: Option<bool>,
    pub watch_when_mentioned: Option<bool>,
    pub digest: Option<bool>,
}

/// The columns of `Wants`.
pub const WANTS: (users::id, users::notify_scope, users::notify_events, users::notify_own, users::notify_digest) =
    (users::id, users::notify_scope, users::notify_events, users::notify_own, users::notify_digest);

/// What the sending side needs of a user's choices.
#[derive(Debug, Clone, Queryable)]
pub struct Wants {
    pub id: UserId,
    scope: String,
    events: String,
    own: bool,
    digest: bool,
}

impl Wants {
    pub fn everything_of_their_projects(&self) -> bool {
        self.scope == "all"
    }

    pub fn only_mentions(&self) -> bool {
        self.scope == "mentions"
    }

    pub fn own_changes(&self) -> bool {
        self.own
    }

    /// Whether their news waits for the daily digest.
    pub fn digest(&self) -> bool {
        self.digest
    }

    /// Whether they want news of this kind (`KINDS`).
    pub fn kind(&self, kind: &str) -> bool {
        self.events.split_whitespace().any(|wanted| wanted == kind)
    }
}

/// Those of these users who start watching an item that mentions them.
pub fn watching_when_mentioned(connection: &mut DbConnection, ids: &[UserId]) -> Result<Vec<UserId>> {
    Ok(users::table
        .filter(any_id(users::id, ids))
        .filter(users::watch_when_mentioned.eq(true))
        .select(users::id)
        .load(connection)?)
}

/// The choices of these users (active, with notifications on), for queueing news.
pub fn wants_of(connection: &mut DbConnection, ids: &[UserId]) -> Result<Vec<Wants>> {
    Ok(users::table
        .filter(any_id(users::id, ids))
        .filter(users::active.eq(true))
        .filter(users::email_notifications.eq(true))
        .select(WANTS)
        .load(connection)?)
}

pub fn get(connection: &mut DbConnection, user: &User) -> Result<Choices> {
    let (on, scope, events, own, watch, digest): (bool, String, String, bool, bool, bool) = users::table
        .find(user.id)
        .select((
            users::email_notifications,
            users::notify_scope,
            users::notify_events,
            users::notify_own,
            users::watch_when_mentioned,
            users::notify_digest,
        ))
        .first(connection)?;
    let scope = match (on, scope.as_str()) {
        (false, _) => Scope::None,
        (true, "all") => Scope::All,
        (true, "mentions") => Scope::Mentions,
        _ => Scope::Involved,
    };
    let held: Vec<&str> = events.split_whitespace().collect();
    Ok(Choices {
        scope,
        events: KINDS.iter().map(|kind| (*kind, held.contains(kind))).collect(),
        own_changes: own,
        watch_when_mentioned: watch,
        digest,
    })
}

/// Changes the user's own choices; an unknown kind of news is refused, naming it.
pub fn set(connection: &mut DbConnection, user: &User, update: ChoicesUpdate) -> Result<Choices> {
    let current = get(connection, user)?;
    let mut events = current.events.clone();
    for (kind, on) in update.events.unwrap_or_default() {
        let Some(known) = KINDS.iter().find(|known| **known == kind) else {
            return Err(Error::invalid(
                format!("events.{kind}"),
                format!("is not a kind of news; the kinds are {}", KINDS.join(", ")),
            ));
        };
        events.insert(known, on);
    }
    let scope = update.scope.unwrap_or(current.scope);
    let stored_events: Vec<&str> = events.iter().filter(|(_, on)| **on).map(|(kind, _)| *kind).collect();
    diesel::update(users::table.find(user.id))
        .set((
            users::email_notifications.eq(scope != Scope::None),
            users::notify_scope.eq(scope.stored()),
            users::notify_events.eq(stored_events.join(" ")),
            users::notify_own.eq(update.own_changes.unwrap_or(current.own_changes)),
            users::watch_when_mentioned.eq(update.watch_when_mentioned.unwrap_or(current.watch_when_mentioned)),
            users::notify_digest.eq(update.digest.unwrap_or(current.digest)),
            users::updated_at.eq(diesel::dsl::now),
        ))
        .execute(connection)?;
    get(connection, user)
}
