//! References in text: `#123` and `OPS-42` name items, `@login` names a person, in
//! descriptions and comments (outside code and links). A page shows a reference as a link
//! only when its viewer may read what it names — an item of a readable project, a person who
//! can read the place the text is in — and otherwise as the text that was written, so a
//! reference tells a reader nothing they could not see anyway.

use std::collections::{BTreeSet, HashMap};
use std::ops::Range;
use std::sync::{Arc, Mutex, PoisonError};

use diesel::prelude::*;
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use crate::db::DbConnection;
use crate::db::schema::{item_facts_version, item_keys, items, memberships, projects, statuses, users};
use crate::error::{Error, Result};
use crate::model::attachment::Attachment;
use crate::model::comment;
use crate::model::ids::{AttachmentId, ItemId, ProjectId, UserId, any_id};
use crate::model::item::key::{self, ItemReference};
use crate::model::permission::{Access, is_readable_in, readable_project_ids};
use crate::model::user::{self, User};

/// What a reference names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Token {
    Item(ItemReference),
    /// A login, lower-cased.
    Person(String),
}

/// An item a reference names, as its reader may see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemTarget {
    pub id: ItemId,
    pub key: String,
    pub title: String,
    pub closed: bool,
}

/// A person a reference names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonTarget {
    pub id: UserId,
    pub login: String,
    pub name: String,
}

/// The references of some texts that their viewer may follow; the others are absent.
#[derive(Debug, Clone, Default)]
pub struct Targets {
    items: HashMap<ItemReference, Arc<ItemTarget>>,
    people: HashMap<String, PersonTarget>,
    /// The attachments of the text's item the viewer may see, for `![](attachment:name)`.
    attachments: Vec<AttachmentTarget>,
}

/// An attachment a text may show (`![](attachment:screen.png)`): inline if it is an image
/// (`Attachment::is_inline_image`), else as a link to download it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentTarget {
    pub id: AttachmentId,
    pub file_name: String,
    pub inline: bool,
}

impl Targets {
    pub fn item(&self, reference: &ItemReference) -> Option<&ItemTarget> {
        self.items.get(reference).map(Arc::as_ref)
    }

    pub fn person(&self, login: &str) -> Option<&PersonTarget> {
        self.people.get(login)
    }

    /// The latest of the attachments with this file name.
    pub fn attachment(&self, file_name: &str) -> Option<&AttachmentTarget> {
        self.attachments.iter().rev().find(|attachment| attachment.file_name == file_name)
    }

    /// These targets, and the attachments of the text's item the viewer may see.
    pub fn with_attachments(self, attachments: &[Attachment]) -> Targets {
        let attachments = attachments
            .iter()
            .map(|attachment| AttachmentTarget {
                id: attachment.id,
                file_name: attachment.file_name.clone(),
                inline: attachment.is_inline_image(),
            })
            .collect();
        Targets { attachments, ..self }
    }
}

#[cfg(test)]
impl Targets {
    /// Targets as a test names them.
    pub fn of(items: Vec<(ItemReference, ItemTarget)>, people: Vec<PersonTarget>) -> Targets {
        Targets {
            items: items.into_iter().map(|(reference, target)| (reference, Arc::new(target))).collect(),
            people: people.into_iter().map(|person| (person.login.clone(), person)).collect(),
            attachments: Vec::new(),
        }
    }
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The references in a run of plain text, with their byte ranges. A reference stands alone:
/// `#12` and `OPS-4` not inside a word (`a#1`, `XOPS-4x` are none), `OPS-4` in capitals as
/// keys are shown, `@ann` not after a word or a dot (`ann@example.com` is an address), a
/// trailing `.`, `-` or `_` of a login taken as punctuation.
pub fn in_text(text: &str) -> Vec<(Range<usize>, Token)> {
    let mut found = Vec::new();
    let mut at = 0;
    while at < text.len() {
        let before = text[..at].chars().next_back();
        let Some(current) = text[at..].chars().next() else { break };
        let starts_word = before.is_none_or(|c| !is_word(c));
        let hit = match current {
            '#' if starts_word && before != Some('&') => {
                let end = text[at + 1..].find(|c: char| !c.is_ascii_digit()).map_or(text.len(), |n| at + 1 + n);
                let followed_by_word = text[end..].chars().next().is_some_and(is_word);
                ItemReference::parse(&text[at..end])
                    .filter(|_| !followed_by_word && end > at + 1)
                    .map(|reference| (end, Token::Item(reference)))
            }
            '@' if before.is_none_or(|c| !(is_word(c) || matches!(c, '.' | '-' | '@'))) => {
                let end = text[at + 1..]
                    .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
                    .map_or(text.len(), |n| at + 1 + n);
                let login = text[at + 1..end].trim_end_matches(['.', '-', '_']);
                let valid = login.len() >= 2 && login.starts_with(|c: char| c.is_ascii_alphanumeric());
                valid.then(|| (at + 1 + login.len(), Token::Person(login.to_ascii_lowercase())))
            }
            'A'..='Z' if starts_word => {
                let end = text[at..].find(|c: char| !is_word(c) && c != '-').map_or(text.len(), |n| at + n);
                let written = &text[at..end];
                let shown_as_key = written.bytes().all(|b| !b.is_ascii_lowercase());
                match ItemReference::parse(written) {
                    Some(reference @ ItemReference::Key { .. }) if shown_as_key => Some((end, Token::Item(reference))),
                    _ => None,
                }
            }
            _ => None,
        };
        match hit {
            Some((end, token)) => {
                found.push((at..end, token));
                at = end;
            }
            None => at += current.len_utf8(),
        }
    }
    found
}

/// Marks the events of Markdown that are plain text: not code, not inside a link (written as
/// Markdown or as HTML) — where URLs become links and references are found.
#[derive(Default)]
pub struct PlainText {
    link_depth: usize,
    in_code_block: bool,
}

impl PlainText {
    /// Whether `event`, the next event of the document, is plain text.
    pub fn is_plain(&mut self, event: &Event<'_>) -> bool {
        match event {
            Event::Start(Tag::Link { .. } | Tag::Image { .. }) => self.link_depth += 1,
            Event::End(TagEnd::Link | TagEnd::Image) => self.link_depth = self.link_depth.saturating_sub(1),
            Event::InlineHtml(raw) => {
                let lower = raw.to_ascii_lowercase();
                if lower.starts_with("<a ") || lower == "<a>" {
                    self.link_depth += 1;
                } else if lower.starts_with("</a") {
                    self.link_depth = self.link_depth.saturating_sub(1);
                }
            }
            Event::Start(Tag::CodeBlock(_)) => self.in_code_block = true,
            Event::End(TagEnd::CodeBlock) => self.in_code_block = false,
            Event::Text(_) => return self.link_depth == 0 && !self.in_code_block,
            _ => {}
        }
        false
    }
}

/// The Markdown users write: CommonMark with tables, strike-through and task lists.
pub fn markdown_options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS
}

/// The references in the plain text of Markdown documents, each once.
pub fn in_markdown<'a>(texts: impl IntoIterator<Item = &'a str>) -> BTreeSet<Token> {
    let mut found = BTreeSet::new();
    for markdown in texts {
        let mut plain = PlainText::default();
        for event in pulldown_cmark::TextMergeStream::new(Parser::new_ext(markdown, markdown_options())) {
            if plain.is_plain(&event)
                && let Event::Text(text) = &event
            {
                found.extend(in_text(text).into_iter().map(|(_, token)| token));
            }
        }
    }
    found
}

/// What of `tokens` `viewer` may follow in a text of project `place`: items of the projects
/// they may read (from the facts this node keeps, `KEPT`, and for the others a query per
/// project key named and one for the items), and active people who may read `place` (a query
/// per login; none without a place: a mention then stays text).
pub fn resolve(
    connection: &mut DbConnection,
    viewer: &User,
    place: Option<ProjectId>,
    tokens: &BTreeSet<Token>,
) -> Result<Targets> {
    let mut targets = Targets::default();
    let references: Vec<&ItemReference> = tokens
        .iter()
        .filter_map(|token| match token {
            Token::Item(reference) => Some(reference),
            Token::Person(_) => None,
        })
        .collect();
    if !references.is_empty() {
        let facts = item_facts(connection, &references)?;
        let readable = readable_project_ids(connection, viewer)?;
        targets.items = facts
            .into_iter()
            .filter(|(_, fact)| is_readable_in(&readable, fact.project))
            .map(|(reference, fact)| (reference, fact.target.clone()))
            .collect();
    }
    if let Some(place) = place {
        for token in tokens {
            if let Token::Person(login) = token
                && let Some(person) = reader(connection, place, login)?
            {
                targets.people.insert(person.login.clone(), person);
            }
        }
    }
    Ok(targets)
}

/// What a reference shows of the item it names, whoever views it, and the project that decides
/// who may.
#[derive(Debug, Clone)]
struct Fact {
    project: ProjectId,
    target: Arc<ItemTarget>,
}

/// The facts of items that this node's references named, as they were at one version of
/// `item_facts_version` in one database: every change to a fact (an item's title, status,
/// project, key or deletion, a status's closed flag) gives that row a new random value, by
/// triggers, so facts read at the version the database holds now are the facts now. A fact is
/// read after the version it is kept under, so at worst it is newer than that version, which is
/// then no longer the database's and is not used again. A reference that names no item is not
/// kept: creating an item does not change the version.
struct Kept {
    database: String,
    version: i64,
    facts: HashMap<ItemReference, Fact>,
}

/// At most this many facts (then the node starts afresh: pages refill it at once).
const KEPT_FACTS: usize = 20_000;

static KEPT: Mutex<Option<Kept>> = Mutex::new(None);

/// The facts of the items `references` name that exist: those this node keeps at the version
/// the database holds, the others read (and kept).
fn item_facts(connection: &mut DbConnection, references: &[&ItemReference]) -> Result<Vec<(ItemReference, Fact)>> {
    let (database, version): (String, i64) = item_facts_version::table
        .select((item_facts_version::database_key, item_facts_version::version))
        .first(connection)?;
    let kept = || KEPT.lock().unwrap_or_else(PoisonError::into_inner);
    let mut found = Vec::with_capacity(references.len());
    let mut missing: Vec<&ItemReference> = Vec::new();
    match kept().as_ref().filter(|kept| kept.database == database && kept.version == version) {
        Some(kept) => {
            for reference in references {
                match kept.facts.get(*reference) {
                    Some(fact) => found.push(((*reference).clone(), fact.clone())),
                    None => missing.push(reference),
                }
            }
        }
        None => missing.extend(references),
    }
    if missing.is_empty() {
        return Ok(found);
    }
    let read = read_facts(connection, &missing)?;
    {
        let mut kept = kept();
        let current = kept.as_ref().is_some_and(|kept| {
            kept.database == database && kept.version == version && kept.facts.len() + read.len() <= KEPT_FACTS
        });
        if !current {
            *kept = Some(Kept { database, version, facts: HashMap::new() });
        }
        if let Some(kept) = kept.as_mut() {
            kept.facts.extend(read.iter().map(|(reference, fact)| (reference.clone(), fact.clone())));
        }
    }
    found.extend(read);
    Ok(found)
}

/// The facts of the items `references` name, from the database: a query per project key named,
/// and one for the items.
fn read_facts(connection: &mut DbConnection, references: &[&ItemReference]) -> Result<Vec<(ItemReference, Fact)>> {
    let mut ids: Vec<(ItemReference, ItemId)> = Vec::new();
    let mut keys: HashMap<&str, Vec<i64>> = HashMap::new();
    for reference in references {
        match reference {
            ItemReference::Id(id) => ids.push(((*reference).clone(), *id)),
            ItemReference::Key { project, number } => keys.entry(project).or_default().push(*number),
        }
    }
    for (project, numbers) in keys {
        let owners: Vec<(i64, ItemId)> = item_keys::table
            .inner_join(projects::table)
            .filter(projects::key.eq(project))
            .filter(any_id(item_keys::number, &numbers))
            .select((item_keys::number, item_keys::item_id))
            .load(connection)?;
        ids.extend(
            owners.into_iter().map(|(number, id)| (ItemReference::Key { project: project.to_string(), number }, id)),
        );
    }
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let wanted: Vec<ItemId> = ids.iter().map(|(_, id)| *id).collect();
    let rows: Vec<(ItemId, ProjectId, String, i64, String, bool)> = items::table
        .inner_join(projects::table)
        .inner_join(statuses::table)
        .filter(any_id(items::id, &wanted))
        .select((items::id, projects::id, projects::key, items::number, items::title, statuses::is_closed))
        .load(connection)?;
    let by_id: HashMap<ItemId, Fact> = rows
        .into_iter()
        .map(|(id, project, key, number, title, closed)| {
            (id, Fact { project, target: Arc::new(ItemTarget { id, key: key::format(&key, number), title, closed }) })
        })
        .collect();
    Ok(ids.into_iter().filter_map(|(reference, id)| Some((reference, by_id.get(&id)?.clone()))).collect())
}

/// The active person with this login if they may read project `place`: one prepared statement,
/// as a text names few people.
fn reader(connection: &mut DbConnection, place: ProjectId, login: &str) -> Result<Option<PersonTarget>> {
    let member_of = memberships::table.filter(memberships::project_id.eq(place)).select(memberships::user_id);
    let public = projects::table.filter(projects::id.eq(place)).filter(projects::is_public.eq(true));
    let found: Option<(UserId, String, String)> = users::table
        .filter(users::login.eq(login))
        .filter(users::active.eq(true))
        .filter(users::is_admin.eq(true).or(users::id.eq_any(member_of)).or(diesel::dsl::exists(public)))
        .select((users::id, users::login, users::name))
        .first(connection)
        .optional()?;
    Ok(found.map(|(id, login, name)| PersonTarget { id, login, name }))
}

/// What to do with `@login` where no account has that login.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum UnknownLogins {
    /// Refuse the text (400 naming its field): what a person types in a form or the API.
    #[default]
    Refuse,
    /// Leave it as text: a mail, whose signature may carry handles of other services.
    Ignore,
}

/// The people a text newly mentions (in `markdown`, not in `before`), other than its writer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mentions {
    /// Those who may read the text's project: they are told.
    pub readers: Vec<UserId>,
    /// The logins of those who may not (or whose account is deactivated): they are not told,
    /// and the writer learns so.
    pub not_told: Vec<String>,
}

impl Mentions {
    /// Only those who may read private notes in `place` are told (`comment::may_read_private`):
    /// the others join `not_told`.
    pub fn of_workers(self, connection: &mut DbConnection, place: ProjectId) -> Result<Mentions> {
        let is_public: bool = projects::table.find(place).select(projects::is_public).first(connection)?;
        let mut kept = Mentions { readers: Vec::new(), not_told: self.not_told };
        for reader in self.readers {
            let person = user::get(connection, reader)?;
            if comment::may_read_private(&Access::for_project(connection, &person, place, is_public)?) {
                kept.readers.push(reader);
            } else {
                kept.not_told.push(person.login);
            }
        }
        kept.not_told.sort();
        Ok(kept)
    }
}

/// The mentions `markdown` adds to `before` in a text of project `place` written by `writer`.
pub fn new_mentions(
    connection: &mut DbConnection,
    field: &str,
    place: ProjectId,
    writer: &User,
    (markdown, before): (&str, &str),
    unknown: UnknownLogins,
) -> Result<Mentions> {
    // Most texts mention nobody, and most edits leave the text as it was: nothing to parse.
    if markdown == before || !markdown.contains('@') {
        return Ok(Mentions::default());
    }
    let earlier = in_markdown([before]);
    let logins: Vec<String> = in_markdown([markdown])
        .into_iter()
        .filter(|token| !earlier.contains(token))
        .filter_map(|token| match token {
            Token::Person(login) if login != writer.login => Some(login),
            _ => None,
        })
        .collect();
    if logins.is_empty() {
        return Ok(Mentions::default());
    }
    let named: Vec<&str> = logins.iter().map(String::as_str).collect();
    let existing: Vec<String> =
        users::table.filter(users::login.eq_any(&named)).select(users::login).load(connection)?;
    let unknown_logins: Vec<&str> =
        named.iter().copied().filter(|login| !existing.iter().any(|found| found == login)).collect();
    if unknown == UnknownLogins::Refuse && !unknown_logins.is_empty() {
        let listed: Vec<String> = unknown_logins.iter().map(|login| format!("@{login}")).collect();
        return Err(Error::invalid(
            field,
            format!(
                "no user has the login {}: check the spelling, or write it in backticks (`{}`) to keep it as text",
                listed.join(", "),
                listed[0]
            ),
        ));
    }
    let mut readers = Vec::new();
    for login in &named {
        readers.extend(reader(connection, place, login)?);
    }
    let mut not_told: Vec<String> =
        existing.into_iter().filter(|login| !readers.iter().any(|reader| &reader.login == login)).collect();
    not_told.sort();
    Ok(Mentions { not_told, readers: readers.into_iter().map(|reader| reader.id).collect() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(text: &str) -> Vec<(&str, Token)> {
        in_text(text).into_iter().map(|(range, token)| (&text[range], token)).collect()
    }

    fn key(project: &str, number: i64) -> Token {
        Token::Item(ItemReference::Key { project: project.to_string(), number })
    }

    #[test]
    fn references_stand_alone_in_text() {
        assert_eq!(
            tokens("See #12, OPS-4 and @ann."),
            [
                ("#12", Token::Item(ItemReference::Id(ItemId(12)))),
                ("OPS-4", key("OPS", 4)),
                ("@ann", Token::Person("ann".into()))
            ]
        );
        assert_eq!(
            tokens("(#7) [WEB2-30]: @Bob_-"),
            [
                ("#7", Token::Item(ItemReference::Id(ItemId(7)))),
                ("WEB2-30", key("WEB2", 30)),
                ("@Bob", Token::Person("bob".into()))
            ]
        );
        assert_eq!(tokens("@j.doe-2, ask"), [("@j.doe-2", Token::Person("j.doe-2".into()))]);
        for none in [
            "a#1",
            "#1a",
            "#0",
            "#",
            "&#35;",
            "XOPS-4x",
            "ops-4",
            "Ops-4",
            "OPS-4-2",
            "OPS-",
            "O-1",
            "ann@example.com",
            "@a",
            "@_x",
            "e.@ann",
            "COVID_19",
            "naïve#3",
        ] {
            assert_eq!(tokens(none), [], "{none}");
        }
        assert_eq!(tokens("Ünïcode #3 ÄOPS-1 ü@ann"), [("#3", Token::Item(ItemReference::Id(ItemId(3))))]);
    }

    #[test]
    fn only_plain_text_of_markdown_counts() {
        let found = in_markdown([
            "#1 `#2` [#3](https://x) <a href=\"y\">#4</a>\n\n```\n#5\n```\n\n* OPS-6 @ann",
            "# Heading #7\n",
        ]);
        let expected: BTreeSet<Token> = [
            Token::Item(ItemReference::Id(ItemId(1))),
            key("OPS", 6),
            Token::Person("ann".into()),
            Token::Item(ItemReference::Id(ItemId(7))),
        ]
        .into_iter()
        .collect();
        assert_eq!(found, expected);
    }
}
