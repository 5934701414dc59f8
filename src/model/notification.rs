//! Notifications: who is told about a change, queued in `mail_outbox` in the same
//! transaction as the change (so none is lost), and sent by the master's mail sender. The
//! reporter, the assignee and the watchers are told, and the members who want news of every
//! item of the project, as each chose (`choices`) — never deactivated accounts, users who
//! turned notifications off, or anyone who cannot read the item, and the person who made the
//! change only if they asked for their own changes. The sender asks `should_hear` again when
//! it renders the mail, since access may have ended in between; a digest lists only what its
//! recipient can read then. Those who chose a daily digest have their news queued as held
//! rows, which the `notification_digest` job gathers into one mail each (`queue_news_digests`).

pub mod choices;

use diesel::prelude::*;

use crate::db::schema::{comments, items, mail_outbox, memberships, projects, statuses, users, watchers};
use crate::db::{DbConnection, database_now, load_by_type};
use crate::error::Result;
use crate::model::field::Catalog;
use crate::model::history::FieldChange;
use crate::model::ids::{CommentId, ItemId, ProjectId, UserId, any_id};
use crate::model::item::key;
use crate::model::permission::{Access, Permission, is_readable_in, readable_project_ids};
use crate::model::user::{self, User};
use crate::model::watcher;
use choices::{WANTS, Wants};

/// What happened to the item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Created,
    /// Assignee, status or a custom field changed (the changes are listed in the mail).
    Changed,
    Commented(CommentId),
}

/// The event of a due-date digest (one mail about several items).
pub const DUE_REMINDER: &str = "due_reminder";

/// The event of a daily digest of the news held for its recipient (`queue_news_digests`).
pub const NEWS_DIGEST: &str = "news_digest";

impl Event {
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Created => "created",
            Event::Changed => "changed",
            Event::Commented(_) => "commented",
        }
    }
}

/// Longest value a change line of a mail shows, in characters.
const MAX_CHANGE_CHARS: usize = 200;

/// The field changes worth a mail — assignment, status and custom fields — as the mail names
/// them: custom fields by their names, values cut at 200 characters.
pub fn notable(changes: &[FieldChange], catalog: &Catalog) -> Vec<FieldChange> {
    let cut = |value: &Option<String>| {
        value.as_ref().map(|text| match text.char_indices().nth(MAX_CHANGE_CHARS) {
            Some((end, _)) => format!("{}…", &text[..end]),
            None => text.clone(),
        })
    };
    changes
        .iter()
        .filter_map(|change| {
            let label = match change.field.as_str() {
                "assignee" | "status" | "labels" | "component" => change.field.clone(),
                "target_version" => "target version".into(),
                key => catalog.by_key(key)?.name.clone(),
            };
            Some(FieldChange { field: label, old_value: cut(&change.old_value), new_value: cut(&change.new_value) })
        })
        .collect()
}

/// An item as its notifications need it: whom it concerns and where it is.
#[derive(Debug, Clone, Copy)]
pub struct Place {
    pub item: ItemId,
    pub reporter: UserId,
    pub assignee: Option<UserId>,
    pub project: ProjectId,
    pub project_is_public: bool,
}

impl Place {
    /// The item as it stands in the current transaction.
    fn read(connection: &mut DbConnection, item: ItemId) -> Result<Place> {
        let (reporter, assignee, project, project_is_public) = items::table
            .inner_join(projects::table)
            .filter(items::id.eq(item))
            .select((items::reporter_id, items::assignee_id, projects::id, projects::is_public))
            .first(connection)?;
        Ok(Place { item, reporter, assignee, project, project_is_public })
    }
}

/// The item a notification is about: by id, its place read only when someone may be told; or
/// an item just created, whose place its creator has just written.
#[derive(Debug, Clone, Copy)]
pub enum About {
    Item(ItemId),
    Created(Place),
}

impl About {
    fn item(self) -> ItemId {
        match self {
            About::Item(id) => id,
            About::Created(place) => place.item,
        }
    }

    fn place(self, connection: &mut DbConnection) -> Result<Place> {
        match self {
            About::Item(id) => Place::read(connection, id),
            About::Created(place) => Ok(place),
        }
    }
}

/// Queues one notification per person concerned, and a mention for each of `mentioned` (people
/// the change's text newly mentions who may read the item: `reference::new_mentions`) instead;
/// a change with nothing to mail (`changes` empty) tells only them. Call inside the change's
/// transaction.
pub fn queue(
    connection: &mut DbConnection,
    about: About,
    actor: UserId,
    event: Event,
    changes: &[FieldChange],
    mentioned: &[UserId],
) -> Result<()> {
    let summary: String = changes
        .iter()
        .map(|change| {
            let shown = |value: &Option<String>| value.clone().unwrap_or_else(|| "(none)".into());
            format!("{}: {} → {}", change.field, shown(&change.old_value), shown(&change.new_value))
        })
        .collect::<Vec<_>>()
        .join("\n");
    let comment_id = match event {
        Event::Commented(comment) => Some(comment),
        Event::Created | Event::Changed => None,
    };
    // A private note reaches only those who may read it.
    let least = match comment_id {
        Some(comment) if comments::table.find(comment).select(comments::private).first(connection)? => Permission::Work,
        _ => Permission::View,
    };
    let item_id = about.item();
    // One mail per change and person: the mentioned get the mention, which shows the text.
    let told = queue_mentions(connection, item_id, actor, comment_id, mentioned)?;
    if event == Event::Changed && changes.is_empty() {
        return Ok(());
    }
    // The kinds of news a change is (`choices::KINDS`): a new assignee hears "assigned".
    let has = |field: &str| changes.iter().any(|change| change.field == field);
    let (status, assignee) = (has("status"), has("assignee"));
    let other = changes.iter().any(|change| change.field != "status" && change.field != "assignee");
    let wants = |wants: &Wants, is_assignee: bool| match event {
        Event::Created => wants.kind("created"),
        Event::Commented(_) => wants.kind("commented"),
        Event::Changed => {
            (status && wants.kind("status"))
                || (assignee && is_assignee && wants.kind("assigned"))
                || ((other || (assignee && !is_assignee)) && wants.kind("updated"))
        }
    };
    for recipient in recipients(connection, about, actor, None, least, wants)? {
        if !told.contains(&recipient.id) {
            insert(connection, item_id, &recipient, actor, event.as_str(), comment_id, &summary)?;
        }
    }
    Ok(())
}

/// Queues a mention for each of `mentioned` who wants mentions mailed: the mail shows the
/// comment (or, without one, the description) that mentions them; those who chose so start
/// watching the item. Returns those told. Call inside the change's transaction.
pub fn queue_mentions(
    connection: &mut DbConnection,
    item_id: ItemId,
    actor: UserId,
    comment: Option<CommentId>,
    mentioned: &[UserId],
) -> Result<Vec<UserId>> {
    if mentioned.is_empty() {
        return Ok(Vec::new());
    }
    for person in choices::watching_when_mentioned(connection, mentioned)? {
        watcher::add_quietly(connection, item_id, person)?;
    }
    let mut told = Vec::with_capacity(mentioned.len());
    for person in choices::wants_of(connection, mentioned)?.into_iter().filter(|wants| wants.kind(MENTIONED)) {
        insert(connection, item_id, &person, actor, MENTIONED, comment, "")?;
        told.push(person.id);
    }
    Ok(told)
}

/// The event of a mention: the mail shows the comment, or the description, that mentions its
/// recipient.
pub const MENTIONED: &str = "mentioned";

/// The event of a link added to or removed from an item.
pub const LINKED: &str = "linked";

/// Queues the news that a link of `item_id` to `other` (`kind` as `item_id`'s side says it)
/// was added or removed, to the people concerned who can read both items. The mail names
/// the other item as it is when sent (`link_line`), if its recipient can still read it.
pub fn queue_link(
    connection: &mut DbConnection,
    item_id: ItemId,
    actor: UserId,
    other: ItemId,
    added: bool,
    kind: &str,
) -> Result<()> {
    let change = format!("{} {kind} #{other}", if added { "added" } else { "removed" });
    let wants = |wants: &Wants, _: bool| wants.kind(LINKED);
    for recipient in recipients(connection, About::Item(item_id), actor, Some(other), Permission::View, wants)? {
        insert(connection, item_id, &recipient, actor, LINKED, None, &change)?;
    }
    Ok(())
}

/// The line a link's mail shows its recipient — `Linked: blocks OPS-12 Title` — or `None` when
/// they cannot read the other item now.
pub fn link_line(connection: &mut DbConnection, user: &User, change: &str) -> Result<Option<String>> {
    let Some((did, rest)) = change.split_once(' ') else { return Ok(None) };
    let Some((kind, other)) = rest.rsplit_once(" #") else { return Ok(None) };
    let Ok(other) = other.parse::<i64>() else { return Ok(None) };
    let found: Option<(String, i64, String, ProjectId, bool)> = items::table
        .inner_join(projects::table)
        .filter(items::id.eq(ItemId(other)))
        .select((items::title, items::number, projects::key, projects::id, projects::is_public))
        .first(connection)
        .optional()?;
    let Some((title, number, project_key, project, project_is_public)) = found else { return Ok(None) };
    if !Access::for_project(connection, user, project, project_is_public)?.allows(Permission::View) {
        return Ok(None);
    }
    let label = if did == "added" { "Linked" } else { "Unlinked" };
    Ok(Some(format!("{label}: {} {} {title}", kind.replace('_', " "), key::format(&project_key, number))))
}

/// The people to tell about an item: its reporter, assignee and watchers, and the members of
/// its project who want news of all its items — each only if they want this news (`wants`,
/// told whether they are the item's assignee), not for mentions only, and not the actor unless
/// they want their own changes; nor anyone who should not hear of it now (or has less than
/// `least` there) — nor, with `also`, anyone who cannot read that item too.
fn recipients(
    connection: &mut DbConnection,
    about: About,
    actor: UserId,
    also: Option<ItemId>,
    least: Permission,
    wants: impl Fn(&Wants, bool) -> bool,
) -> Result<Vec<Wants>> {
    let place = about.place(connection)?;
    let also = also.map(|other| Place::read(connection, other)).transpose()?;
    // Those concerned, what they want and their role in the project, in one statement (each
    // branch reads its own index).
    let involved: Vec<UserId> = std::iter::once(place.reporter).chain(place.assignee).collect();
    let hearing = || users::active.eq(true).and(users::email_notifications.eq(true));
    let membership =
        || memberships::table.on(memberships::user_id.eq(users::id).and(memberships::project_id.eq(place.project)));
    let mut candidates: Vec<(User, Wants, Option<String>)> = load_by_type!(
        connection,
        users::table
            .left_join(membership())
            .filter(any_id(users::id, &involved))
            .filter(hearing())
            .select((User::as_select(), WANTS, memberships::role.nullable()))
            .union_all(
                watchers::table
                    .inner_join(users::table)
                    .left_join(membership())
                    .filter(watchers::item_id.eq(place.item))
                    .filter(hearing())
                    .select((User::as_select(), WANTS, memberships::role.nullable())),
            )
            .union_all(
                users::table.inner_join(membership()).filter(users::notify_scope.eq("all")).filter(hearing()).select((
                    User::as_select(),
                    WANTS,
                    memberships::role.nullable()
                )),
            )
    )?;
    candidates.sort_unstable_by_key(|(user, ..)| user.id);
    candidates.dedup_by_key(|(user, ..)| user.id);
    let mut recipients = Vec::with_capacity(candidates.len());
    for (candidate_user, candidate, role) in candidates {
        if (candidate.id == actor && !candidate.own_changes())
            || candidate.only_mentions()
            || !wants(&candidate, Some(candidate.id) == place.assignee)
        {
            continue;
        }
        let access = Access::with_stored_role(&candidate_user, role.as_deref(), place.project_is_public)?;
        let hears_of_other = match also {
            Some(other) => {
                should_hear(connection, &candidate_user, other.project, other.project_is_public, Permission::View)?
            }
            None => true,
        };
        if hears_of_other && access.allows(least) {
            recipients.push(candidate);
        }
    }
    Ok(recipients)
}

/// Queues a digest (`DUE_REMINDER` or `NEWS_DIGEST`) for `recipient`, never held; its
/// `item_id` is the first item it names.
fn insert_digest(
    connection: &mut DbConnection,
    item_id: ItemId,
    recipient: UserId,
    event: &str,
    changes: &str,
) -> Result<()> {
    diesel::insert_into(mail_outbox::table)
        .values((
            mail_outbox::item_id.eq(item_id),
            mail_outbox::recipient_id.eq(recipient),
            mail_outbox::actor_id.eq(recipient),
            mail_outbox::event.eq(event),
            mail_outbox::changes.eq(changes),
        ))
        .execute(connection)?;
    Ok(())
}

/// Queues a mail to `recipient`, held for their daily digest if they chose one.
fn insert(
    connection: &mut DbConnection,
    item_id: ItemId,
    recipient: &Wants,
    actor: UserId,
    event: &str,
    comment_id: Option<CommentId>,
    changes: &str,
) -> Result<()> {
    diesel::insert_into(mail_outbox::table)
        .values((
            mail_outbox::item_id.eq(item_id),
            mail_outbox::recipient_id.eq(recipient.id),
            mail_outbox::actor_id.eq(actor),
            mail_outbox::held.eq(recipient.digest()),
            mail_outbox::event.eq(event),
            mail_outbox::comment_id.eq(comment_id),
            mail_outbox::changes.eq(changes),
        ))
        .execute(connection)?;
    Ok(())
}

/// Whether the user is to hear about an item of the project now: an active account with
/// notifications on that has `least` there (`View` to read it, `Work` for a private note).
pub fn should_hear(
    connection: &mut DbConnection,
    user: &User,
    project: ProjectId,
    project_is_public: bool,
    least: Permission,
) -> Result<bool> {
    if !user.active || !user.email_notifications {
        return Ok(false);
    }
    Ok(Access::for_project(connection, user, project, project_is_public)?.allows(least))
}

#[derive(Queryable)]
struct DueItem {
    id: ItemId,
    project_id: ProjectId,
    project_key: String,
    number: i64,
    title: String,
    due_date: chrono::NaiveDate,
    assignee: Option<UserId>,
    reporter: UserId,
}

/// The open items due by tomorrow or overdue on `today`, most urgent first.
fn due_items(
    connection: &mut DbConnection,
    today: chrono::NaiveDate,
    among: Option<&[ItemId]>,
) -> Result<Vec<DueItem>> {
    let tomorrow = today + chrono::Days::new(1);
    let mut query = items::table
        .inner_join(statuses::table)
        .inner_join(projects::table)
        .filter(statuses::is_closed.eq(false))
        .filter(items::due_date.le(tomorrow))
        .order((items::due_date.asc(), items::id.asc()))
        .select((
            items::id,
            items::project_id,
            projects::key,
            items::number,
            items::title,
            items::due_date.assume_not_null(),
            items::assignee_id,
            items::reporter_id,
        ))
        .into_boxed();
    if let Some(ids) = among {
        query = query.filter(items::id.eq_any(ids));
    }
    Ok(query.load(connection)?)
}

/// Queues one digest per user of the open items due by tomorrow or overdue that they can
/// read: the items assigned to them, or reported by them when nobody is assigned. The digest
/// names the items (`changes`: one `#id` per line, most urgent first) and is written when it
/// is sent (`digest_lines`); its `item_id` is the most urgent item. Returns how many digests
/// and items.
pub fn queue_due_reminders(connection: &mut DbConnection, today: chrono::NaiveDate) -> Result<(usize, usize)> {
    let due = due_items(connection, today, None)?;
    let mut by_user: std::collections::BTreeMap<UserId, Vec<&DueItem>> = std::collections::BTreeMap::new();
    for item in &due {
        by_user.entry(item.assignee.unwrap_or(item.reporter)).or_default().push(item);
    }
    let (mut digests, mut items_mentioned) = (0, 0);
    for (recipient, items) in by_user {
        let user = user::get(connection, recipient)?;
        if !user.active || !user.email_notifications {
            continue;
        }
        let readable = readable_project_ids(connection, &user)?;
        let readable: Vec<&DueItem> =
            items.into_iter().filter(|item| is_readable_in(&readable, item.project_id)).collect();
        let Some(most_urgent) = readable.first() else { continue };
        let lines: Vec<String> = readable.iter().map(|item| format!("#{}", item.id)).collect();
        insert_digest(connection, most_urgent.id, recipient, DUE_REMINDER, &lines.join("\n"))?;
        digests += 1;
        items_mentioned += lines.len();
    }
    Ok((digests, items_mentioned))
}

/// Outbox rows named per statement, within the bind limits of both backends.
pub const ROWS_PER_STATEMENT: usize = 1000;

/// Gathers each user's held news (queued while they chose the daily digest) into one digest
/// row, whose `changes` lists the held rows' ids one per line, and marks those rows as sent
/// into it. The digest is written when it is sent, from the rows as its recipient may read
/// them then. Rows queued while this runs wait for the next digest. Returns how many digests
/// and pieces of news.
pub fn queue_news_digests(connection: &mut DbConnection) -> Result<(usize, usize)> {
    let held: Vec<(i64, UserId, ItemId)> = mail_outbox::table
        .filter(mail_outbox::held.eq(true))
        .filter(mail_outbox::sent_at.is_null())
        .order(mail_outbox::id.asc())
        .select((mail_outbox::id, mail_outbox::recipient_id, mail_outbox::item_id))
        .load(connection)?;
    let mut by_user: std::collections::BTreeMap<UserId, Vec<(i64, ItemId)>> = std::collections::BTreeMap::new();
    for (id, recipient, item) in held {
        by_user.entry(recipient).or_default().push((id, item));
    }
    let now = database_now(connection)?;
    let (digests, mut news) = (by_user.len(), 0);
    for (recipient, rows) in by_user {
        let ids: Vec<i64> = rows.iter().map(|(id, _)| *id).collect();
        let lines: Vec<String> = ids.iter().map(i64::to_string).collect();
        insert_digest(connection, rows[0].1, recipient, NEWS_DIGEST, &lines.join("\n"))?;
        for chunk in ids.chunks(ROWS_PER_STATEMENT) {
            diesel::update(mail_outbox::table.filter(mail_outbox::id.eq_any(chunk)))
                .set(mail_outbox::sent_at.eq(now))
                .execute(connection)?;
        }
        news += ids.len();
    }
    Ok((digests, news))
}

/// The held rows a news digest gathered (its `changes`), in the order they were queued.
pub fn digest_rows(changes: &str) -> Vec<i64> {
    changes.lines().filter_map(|line| line.trim().parse().ok()).collect()
}

/// The lines of a digest for `user` as its items are on `today`: those of `changes` (each
/// line starts with `#id`) that are still open, due by tomorrow and readable by the user,
/// most urgent first.
pub fn digest_lines(
    connection: &mut DbConnection,
    user: &User,
    changes: &str,
    today: chrono::NaiveDate,
) -> Result<Vec<String>> {
    let named: Vec<ItemId> = changes
        .lines()
        .filter_map(|line| {
            line.strip_prefix('#')?.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok().map(ItemId)
        })
        .collect();
    let readable = readable_project_ids(connection, user)?;
    let lines = due_items(connection, today, Some(&named))?
        .into_iter()
        .filter(|item| is_readable_in(&readable, item.project_id))
        .map(|item| {
            let when = match (item.due_date - today).num_days() {
                1 => "due tomorrow".to_string(),
                0 => "due today".to_string(),
                -1 => "overdue by 1 day".to_string(),
                days => format!("overdue by {} days", -days),
            };
            format!("{} {} ({when}, {})", key::format(&item.project_key, item.number), item.title, item.due_date)
        })
        .collect();
    Ok(lines)
}
