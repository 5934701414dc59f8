//! What is indexed of an item: its fields, and one searchable body made of the description,
//! the text of its custom fields (text, long text, URL and choice values), every comment and
//! every attachment's file name; the names of its labels, target version and component.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use tantivy::{DateTime, TantivyDocument, doc};

use crate::db::DbConnection;
use crate::db::schema::{attachments, comments, components, item_labels, items, labels, statuses, versions};
use crate::error::Result;
use crate::model::attachment::FileStore;
use crate::model::field::Catalog;
use crate::model::field::value;
use crate::model::html::html_to_text;
use crate::search::fields::Fields;

/// Loaded by position: `body` starts as the description and gets the rest appended.
#[derive(Debug, Clone, Queryable)]
pub struct ItemDocument {
    pub id: i64,
    pub project_id: i64,
    pub type_id: i64,
    pub status_id: i64,
    pub priority_id: i64,
    pub reporter_id: i64,
    pub assignee_id: Option<i64>,
    pub closed: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub title: String,
    pub body: String,
}

/// Text-like attachments up to this size have their content indexed.
pub const MAX_INDEXED_ATTACHMENT_BYTES: i64 = 256 * 1024;

/// The searchable text of a text-like attachment (plain, Markdown, CSV; HTML without tags).
fn attachment_text(files: &FileStore, content_type: &str, size_bytes: i64, sha256: &str) -> Option<String> {
    let text_like =
        matches!(content_type, "text/plain" | "text/markdown" | "text/x-markdown" | "text/csv" | "text/html");
    if !text_like || size_bytes > MAX_INDEXED_ATTACHMENT_BYTES {
        return None;
    }
    let bytes = std::fs::read(files.path_of(sha256).ok()?).ok()?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    Some(if content_type == "text/html" { html_to_text(&text) } else { text })
}

/// The documents of the given items that still exist: a few queries for the whole batch (the
/// rows with their values, comments, attachments, planning names), none per item.
pub fn load(connection: &mut DbConnection, files: &FileStore, ids: &[i64]) -> Result<Vec<ItemDocument>> {
    let rows: Vec<(ItemDocument, Option<String>)> = items::table
        .inner_join(statuses::table)
        .filter(items::id.eq_any(ids))
        .order(items::id.asc())
        .select((
            (
                items::id,
                items::project_id,
                items::type_id,
                items::status_id,
                items::priority_id,
                items::reporter_id,
                items::assignee_id,
                statuses::is_closed,
                items::created_at,
                items::updated_at,
                items::title,
                items::description,
            ),
            items::field_values,
        ))
        .load(connection)?;
    let mut extra: HashMap<i64, String> = HashMap::new();
    // Private notes, and the files attached to them, are not searchable: search shows an
    // item's text to everyone who may read the item.
    let comment_rows: Vec<(i64, String)> = comments::table
        .filter(comments::item_id.eq_any(ids))
        .filter(comments::private.eq(false))
        .order(comments::id.asc())
        .select((comments::item_id, comments::body))
        .load(connection)?;
    let attachment_rows: Vec<(i64, String, String, i64, String)> = attachments::table
        .filter(attachments::item_id.eq_any(ids))
        .filter(diesel::dsl::not(diesel::dsl::exists(
            comments::table.filter(comments::id.nullable().eq(attachments::comment_id)).filter(comments::private),
        )))
        .order(attachments::id.asc())
        .select((
            attachments::item_id,
            attachments::file_name,
            attachments::content_type,
            attachments::size_bytes,
            attachments::sha256,
        ))
        .load(connection)?;
    let attachment_texts = attachment_rows.into_iter().map(|(item_id, file_name, content_type, size_bytes, sha256)| {
        let content = attachment_text(files, &content_type, size_bytes, &sha256).unwrap_or_default();
        (item_id, format!("{file_name}\n{content}"))
    });
    let catalog = Catalog::load(connection)?;
    let mut field_texts: Vec<(i64, String)> = Vec::new();
    let mut documents = Vec::with_capacity(rows.len());
    for (document, kept) in rows {
        for (field_id, held) in value::decode(&catalog, kept.as_deref())? {
            let Some(field) = catalog.by_id(field_id) else { continue };
            if let Some(text) = value::searchable_text(field, &held) {
                field_texts.push((document.id, text));
            }
        }
        documents.push(document);
    }
    let planning = planning_names(connection, ids)?;
    for (item_id, text) in field_texts.into_iter().chain(planning).chain(comment_rows).chain(attachment_texts) {
        let body = extra.entry(item_id).or_default();
        body.push_str("\n\n");
        body.push_str(&text);
    }
    for document in &mut documents {
        document.body.push_str(&extra.remove(&document.id).unwrap_or_default());
    }
    Ok(documents)
}

/// The names of the items' labels, target versions and components, one text per name.
fn planning_names(connection: &mut DbConnection, ids: &[i64]) -> Result<Vec<(i64, String)>> {
    let mut names: Vec<(i64, String)> = item_labels::table
        .inner_join(labels::table)
        .filter(item_labels::item_id.eq_any(ids))
        .select((item_labels::item_id, labels::name))
        .load(connection)?;
    names.extend(
        items::table
            .inner_join(versions::table)
            .filter(items::id.eq_any(ids))
            .select((items::id, versions::name))
            .load::<(i64, String)>(connection)?,
    );
    names.extend(
        items::table
            .inner_join(components::table)
            .filter(items::id.eq_any(ids))
            .select((items::id, components::name))
            .load::<(i64, String)>(connection)?,
    );
    Ok(names)
}

fn date(time: NaiveDateTime) -> DateTime {
    DateTime::from_timestamp_secs(time.and_utc().timestamp())
}

fn unsigned(id: i64) -> u64 {
    u64::try_from(id).unwrap_or(0)
}

impl ItemDocument {
    pub fn to_tantivy(&self, fields: &Fields) -> TantivyDocument {
        doc!(
            fields.item_id => unsigned(self.id),
            fields.project_id => unsigned(self.project_id),
            fields.type_id => unsigned(self.type_id),
            fields.status_id => unsigned(self.status_id),
            fields.priority_id => unsigned(self.priority_id),
            fields.reporter_id => unsigned(self.reporter_id),
            fields.assignee_id => unsigned(self.assignee_id.unwrap_or(0)),
            fields.closed => u64::from(self.closed),
            fields.created => date(self.created_at),
            fields.updated => date(self.updated_at),
            fields.title => self.title.as_str(),
            fields.body => self.body.as_str(),
            // The title twice: the cheapest way to rank title matches higher.
            fields.text => self.title.as_str(),
            fields.text => self.title.as_str(),
            fields.text => self.body.as_str(),
        )
    }
}
