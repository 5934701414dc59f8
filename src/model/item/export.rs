//! The item list as CSV: every item the filter matches (the list's own permission checks,
//! filters and sort), one row each, with a column for each custom field that applies to at
//! least one of them. At most `EXPORT_LIMIT` items; a longer list is refused, to be narrowed.

use diesel::Connection;
use diesel::connection::SimpleConnection;

use super::ItemView;
use super::listing::{self, ItemFilter, MAX_PAGE_SIZE};
use crate::db::DbConnection;
use crate::error::{Error, Result};
use crate::model::definitions::Version;
use crate::model::field::value::Shown;
use crate::model::user::User;

pub const EXPORT_LIMIT: i64 = 10_000;

/// The first columns, before the custom fields (then `description`).
const COLUMNS: [&str; 16] = [
    "id",
    "key",
    "project",
    "type",
    "status",
    "priority",
    "title",
    "assignee",
    "reporter",
    "created",
    "updated",
    "due",
    "parent",
    "target_version",
    "labels",
    "component",
];

/// The CSV text (UTF-8, RFC 4180, a header row) of the items `filter` lists for `actor`,
/// read from one snapshot of the database.
pub fn csv(connection: &mut DbConnection, actor: &User, filter: &ItemFilter) -> Result<Vec<u8>> {
    let items = connection.transaction(|connection: &mut DbConnection| {
        if let DbConnection::Postgresql(inner) = connection {
            inner.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
        }
        every_item(connection, actor, filter)
    })?;
    let csv = write(&items).map_err(|error| Error::internal("writing the CSV export", error))?;
    tracing::info!(actor = %actor.login, items = items.len(), bytes = csv.len(), "item list exported as CSV");
    Ok(csv)
}

fn every_item(connection: &mut DbConnection, actor: &User, filter: &ItemFilter) -> Result<Vec<ItemView>> {
    // Flat whatever the view: the `parent` column keeps the tree.
    let mut page_filter = ItemFilter { limit: Some(MAX_PAGE_SIZE), offset: Some(0), tree: false, ..filter.clone() };
    let version = Version::read(connection)?;
    let first = listing::list(connection, actor, &page_filter, &version)?;
    if first.total > EXPORT_LIMIT {
        return Err(Error::invalid(
            "export",
            format!(
                "the list holds {} items and an export takes at most {EXPORT_LIMIT}: narrow it with filters",
                first.total
            ),
        ));
    }
    let mut items = first.items;
    while (items.len() as i64) < first.total {
        page_filter.offset = Some(items.len() as i64);
        let page = listing::list(connection, actor, &page_filter, &version)?.items;
        if page.is_empty() {
            break;
        }
        items.extend(page);
    }
    Ok(items)
}

fn write(items: &[ItemView]) -> std::result::Result<Vec<u8>, csv::Error> {
    // The custom fields that apply to any of the items, in form order (each item lists every
    // field that applies to it, in that order).
    let mut fields: Vec<(&str, &str)> = Vec::new();
    for item in items {
        for field in &item.fields.0 {
            if !fields.iter().any(|(key, _)| *key == field.key) {
                fields.push((&field.key, &field.name));
            }
        }
    }
    let mut writer = csv::Writer::from_writer(Vec::new());
    let header = COLUMNS.iter().copied().chain(fields.iter().map(|(_, name)| *name)).chain(["description"]);
    writer.write_record(header.map(guarded))?;
    for item in items {
        let person = |person: &Option<crate::model::user::UserSummary>| {
            person.as_ref().map(|person| person.login.clone()).unwrap_or_default()
        };
        let mut row: Vec<String> = vec![
            item.id.to_string(),
            item.key.clone(),
            item.project.key.clone(),
            item.item_type.name.clone(),
            item.status.name.clone(),
            item.priority.name.clone(),
            guarded(&item.title),
            person(&item.assignee),
            item.reporter.login.clone(),
            crate::timestamp::utc_text(item.created_at),
            crate::timestamp::utc_text(item.updated_at),
            item.due_date.map(|date| date.to_string()).unwrap_or_default(),
            item.parent.as_ref().map(|parent| parent.id.to_string()).unwrap_or_default(),
            guarded(&item.target_version.as_ref().map(|version| version.name.clone()).unwrap_or_default()),
            guarded(&item.labels.iter().map(|label| label.name.as_str()).collect::<Vec<_>>().join(", ")),
            guarded(&item.component.as_ref().map(|component| component.name.clone()).unwrap_or_default()),
        ];
        for (key, _) in &fields {
            let value = item.fields.0.iter().find(|field| field.key == *key).and_then(|field| field.value.as_ref());
            row.push(match value {
                Some(shown @ (Shown::Integer(_) | Shown::Decimal(_))) => shown.text(),
                Some(shown) => guarded(&shown.text()),
                None => String::new(),
            });
        }
        row.push(guarded(&item.description));
        writer.write_record(&row)?;
    }
    writer.into_inner().map_err(|error| csv::Error::from(error.into_error()))
}

/// Text a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab or carriage return at
/// the start) gets a leading apostrophe, as OWASP advises for CSV files.
fn guarded(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text.to_string() }
}
