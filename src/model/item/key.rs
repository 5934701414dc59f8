//! Item keys: every item has a number in its project, shown with the project's key as
//! `OPS-42`. The database gives the number (on insert and on a move to another project, from a
//! sequence per project on PostgreSQL and a counter in the project's row on SQLite; see the
//! `item_keys` migration) and keeps every key an item ever had, so a key keeps naming the item after a move. People name items by key or by id:
//! `ItemReference` reads either, as URLs, searches and mail subjects write them.

use std::fmt;

use diesel::prelude::*;
use serde::{Deserialize, Deserializer};

use crate::db::DbConnection;
use crate::db::schema::{item_keys, items, projects};
use crate::error::{Error, Result};
use crate::model::ids::{ItemId, ProjectId};
use crate::model::permission::Access;
use crate::model::project;
use crate::model::user::User;

/// The key of item `number` of the project with key `project`.
pub fn format(project: &str, number: i64) -> String {
    format!("{project}-{number}")
}

/// An item as a person names it: by id (`123` or `#123`) or by key (`OPS-42`, in any case).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ItemReference {
    Id(ItemId),
    Key { project: String, number: i64 },
}

impl ItemReference {
    /// The reference in `text`, trimmed; None for anything else (a number of 0, a project
    /// key that could not exist, trailing text).
    pub fn parse(text: &str) -> Option<ItemReference> {
        let text = text.trim();
        let positive = |digits: &str| {
            (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
                .then(|| digits.parse::<i64>().ok())
                .flatten()
                .filter(|number| *number > 0)
        };
        if let Some(id) = positive(text.strip_prefix('#').unwrap_or(text)) {
            return Some(ItemReference::Id(ItemId(id)));
        }
        let (project, number) = text.rsplit_once('-')?;
        let project = project::parse_key(project).ok().filter(|key| key.len() == project.len())?;
        Some(ItemReference::Key { project, number: positive(number)? })
    }

    /// The item it names, if it exists; no permission check (a mail's tag, whose sender's
    /// right to comment is checked when the comment is made).
    pub fn lookup(&self, connection: &mut DbConnection) -> Result<Option<ItemId>> {
        match self {
            ItemReference::Id(id) => Ok(items::table.find(id).select(items::id).first(connection).optional()?),
            ItemReference::Key { project, number } => key_owner(connection, project, *number),
        }
    }

    /// The id of the item it names, for the functions that take one: an id as given (they
    /// check that the actor may see it and answer an unknown one by that id); a key, current
    /// or former, looked up and answered as unknown under its own name when no item has it or
    /// the actor may not see the item, so that a key never tells an id.
    pub fn resolve(&self, connection: &mut DbConnection, actor: &User) -> Result<ItemId> {
        Ok(self.resolve_with_key(connection, actor)?.0)
    }

    /// `resolve`, and for a key the key the item has now (another after a move).
    pub fn resolve_with_key(&self, connection: &mut DbConnection, actor: &User) -> Result<(ItemId, Option<String>)> {
        match self {
            ItemReference::Id(id) => Ok((*id, None)),
            ItemReference::Key { project, number } => {
                let (id, key) = self.readable_owner(connection, actor, project, *number)?;
                Ok((id, Some(key)))
            }
        }
    }

    /// The item that has or had key `project`-`number` and its key now, if the actor may see
    /// it; one statement (and the actor's role, for those who are not administrators).
    fn readable_owner(
        &self,
        connection: &mut DbConnection,
        actor: &User,
        project: &str,
        number: i64,
    ) -> Result<(ItemId, String)> {
        let unknown = || Error::not_found(format!("item {self}"));
        let named = diesel::alias!(projects as named);
        let (id, project_id, is_public, key, number_now): (ItemId, ProjectId, bool, String, i64) = item_keys::table
            .inner_join(named.on(named.field(projects::id).eq(item_keys::project_id)))
            .inner_join(items::table.inner_join(projects::table))
            .filter(named.field(projects::key).eq(project))
            .filter(item_keys::number.eq(number))
            .select((item_keys::item_id, projects::id, projects::is_public, projects::key, items::number))
            .first(connection)
            .optional()?
            .ok_or_else(unknown)?;
        match Access::for_project(connection, actor, project_id, is_public)?.readable_item(id, project_id) {
            Ok(_) => Ok((id, format(&key, number_now))),
            Err(Error::NotFound(_)) => Err(unknown()),
            Err(error) => Err(error),
        }
    }
}

/// The item that has or had a key.
fn key_owner(connection: &mut DbConnection, project: &str, number: i64) -> Result<Option<ItemId>> {
    Ok(item_keys::table
        .inner_join(projects::table)
        .filter(projects::key.eq(project))
        .filter(item_keys::number.eq(number))
        .select(item_keys::item_id)
        .first(connection)
        .optional()?)
}

/// From a URL's path or a request body: an error names the text for a 400.
/// From a path segment or a JSON string (`"OPS-42"`, `"123"`), or a JSON number (`123`).
impl<'de> Deserialize<'de> for ItemReference {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct Reference;
        impl serde::de::Visitor<'_> for Reference {
            type Value = ItemReference;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("an item id or key (such as 123 or OPS-42)")
            }

            fn visit_str<E: serde::de::Error>(self, text: &str) -> std::result::Result<ItemReference, E> {
                ItemReference::parse(text)
                    .ok_or_else(|| E::custom(format!("{text:?} is not an item id or key (such as 123 or OPS-42)")))
            }

            fn visit_u64<E: serde::de::Error>(self, number: u64) -> std::result::Result<ItemReference, E> {
                self.visit_str(&number.to_string())
            }

            fn visit_i64<E: serde::de::Error>(self, number: i64) -> std::result::Result<ItemReference, E> {
                self.visit_str(&number.to_string())
            }
        }
        deserializer.deserialize_any(Reference)
    }
}

impl fmt::Display for ItemReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ItemReference::Id(id) => write!(f, "{id}"),
            ItemReference::Key { project, number } => f.write_str(&format(project, *number)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ItemReference;
    use crate::model::ids::ItemId;

    fn key(project: &str, number: i64) -> Option<ItemReference> {
        Some(ItemReference::Key { project: project.to_string(), number })
    }

    #[test]
    fn ids_and_keys_are_read_in_any_case_and_nothing_else_is() {
        assert_eq!(ItemReference::parse("123"), Some(ItemReference::Id(ItemId(123))));
        assert_eq!(ItemReference::parse(" #7 "), Some(ItemReference::Id(ItemId(7))));
        assert_eq!(ItemReference::parse("OPS-42"), key("OPS", 42));
        assert_eq!(ItemReference::parse("ops-42"), key("OPS", 42));
        assert_eq!(ItemReference::parse("A1B2-9"), key("A1B2", 9));
        for refused in [
            "", "#", "0", "#0", "-3", "+3", "OPS-", "OPS-0", "OPS-x", "-42", "O-1", "1OPS-1", "OPS -1", "OPS-1 x",
            "OP$-1",
        ] {
            assert_eq!(ItemReference::parse(refused), None, "{refused:?}");
        }
        assert_eq!(ItemReference::parse("99999999999999999999"), None);
        assert_eq!(ItemReference::parse("OPS-42").unwrap().to_string(), "OPS-42");
        assert_eq!(ItemReference::parse("#42").unwrap().to_string(), "42");
    }
}
