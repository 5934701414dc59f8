//! The search query language and its execution. Free text (quoted phrases, `-word`) goes to
//! Tantivy's parser over the title and body fields (plain and stemmed); `field:value` filters
//! are resolved against the database: `project:OPS`, `status:open|closed|<name>`,
//! `assignee:me|none|<login>`, `type:<name>`, `priority:<name>`. An unknown field is searched
//! as literal text. A bare `#123` or `123` opens that item. Results are limited to the
//! caller's readable projects inside the query and re-checked against the database.

use diesel::prelude::*;
use serde::Serialize;
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, QueryParser, TermSetQuery};
use tantivy::schema::Value;
use tantivy::snippet::SnippetGenerator;
use tantivy::{TantivyDocument, Term};

use crate::db::DbConnection;
use crate::db::schema::{projects, statuses, users};
use crate::error::{Error, Result};
use crate::model::ids::ItemId;
use crate::model::item::{self, ItemView};
use crate::model::permission::readable_project_ids;
use crate::model::user::User;
use crate::model::workflow::Workflow;
use crate::search::SearchIndex;
use crate::search::fields::Fields;
use tantivy::schema::Field;

pub const MAX_QUERY_CHARS: usize = 1000;
pub const MAX_PAGE: usize = 100;

#[derive(Debug, Clone, Serialize)]
pub struct SearchHit {
    pub item: ItemView,
    pub score: f32,
    /// The title with matches in `<b>…</b>`, HTML-escaped.
    pub title_html: String,
    /// The best matching fragment of description, comments and file names, HTML-escaped.
    pub snippet_html: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SearchResults {
    pub total: usize,
    pub limit: usize,
    pub offset: usize,
    pub hits: Vec<SearchHit>,
    /// Set when the query named one item (`#123`): that item, if the caller may see it.
    pub item: Option<ItemView>,
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Parsed {
    text: String,
    filters: Vec<(String, String)>,
}

const FILTER_FIELDS: &[&str] = &["project", "status", "assignee", "type", "priority", "created", "updated"];

/// Splits the query into free text and known `field:value` filters; quotes are kept (and
/// closed when unbalanced); unknown fields become literal phrases.
fn parse(query: &str) -> Parsed {
    let mut parsed = Parsed::default();
    let mut tokens: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for character in query.chars() {
        match character {
            '"' => {
                quoted = !quoted;
                current.push(character);
            }
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    tokens.push(std::mem::take(&mut current));
                }
            }
            c if c.is_control() => {}
            c => current.push(c),
        }
    }
    if quoted {
        current.push('"');
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    let mut text = Vec::new();
    for token in tokens {
        match token.split_once(':') {
            Some((field, value))
                if FILTER_FIELDS.contains(&field.to_ascii_lowercase().as_str()) && !value.is_empty() =>
            {
                parsed.filters.push((field.to_ascii_lowercase(), value.trim_matches('"').to_string()));
            }
            Some(_) => text.push(format!("\"{}\"", token.replace('"', ""))),
            None if token == "-" || token == "+" => {}
            None => text.push(token),
        }
    }
    parsed.text = text.join(" ");
    parsed
}

fn ids_of(values: Vec<i64>) -> Vec<u64> {
    values.into_iter().filter_map(|id| u64::try_from(id).ok()).collect()
}

/// The index values a filter admits; an empty list admits nothing.
fn resolve_filter(connection: &mut DbConnection, actor: &User, field: &str, value: &str) -> Result<Vec<u64>> {
    let lower = value.to_lowercase();
    Ok(match field {
        "project" => ids_of(
            projects::table
                .filter(projects::key.eq(value.to_ascii_uppercase()))
                .select(projects::id)
                .load(connection)?,
        ),
        "status" if lower == "open" || lower == "closed" => ids_of(
            statuses::table.filter(statuses::is_closed.eq(lower == "closed")).select(statuses::id).load(connection)?,
        ),
        "status" | "type" | "priority" => {
            let workflow = Workflow::load(connection)?;
            let named: Vec<(i64, &str)> = match field {
                "status" => workflow.statuses.iter().map(|entry| (entry.id.0, entry.name.as_str())).collect(),
                "type" => workflow.types.iter().map(|entry| (entry.id.0, entry.name.as_str())).collect(),
                _ => workflow.priorities.iter().map(|entry| (entry.id.0, entry.name.as_str())).collect(),
            };
            ids_of(named.into_iter().filter(|(_, name)| name.to_lowercase() == lower).map(|(id, _)| id).collect())
        }
        "assignee" if lower == "me" => ids_of(vec![actor.id.0]),
        "assignee" if lower == "none" => vec![0],
        "assignee" => ids_of(users::table.filter(users::login.eq(&lower)).select(users::id).load(connection)?),
        _ => Vec::new(),
    })
}

/// `#123` or `123` alone names an item.
fn item_reference(query: &str) -> Option<i64> {
    let trimmed = query.trim();
    trimmed.strip_prefix('#').unwrap_or(trimmed).parse::<i64>().ok().filter(|id| *id > 0)
}

pub fn search(
    connection: &mut DbConnection,
    index: &SearchIndex,
    actor: &User,
    query: &str,
    limit: usize,
    offset: usize,
) -> Result<SearchResults> {
    if query.chars().count() > MAX_QUERY_CHARS {
        return Err(Error::invalid("q", format!("must have at most {MAX_QUERY_CHARS} characters")));
    }
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(Error::invalid("limit", format!("must be between 1 and {MAX_PAGE}")));
    }
    if let Some(id) = item_reference(query) {
        let found = item::get(connection, actor, ItemId(id)).ok();
        return Ok(SearchResults { total: usize::from(found.is_some()), limit, offset, hits: Vec::new(), item: found });
    }
    let (searcher, fields) = index.searcher()?;
    let parsed = parse(query);
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    let text_query: Box<dyn Query> = if parsed.text.trim().is_empty() {
        Box::new(AllQuery)
    } else {
        let mut parser = QueryParser::for_index(searcher.index(), fields.text_fields());
        parser.set_conjunction_by_default();
        parser.set_field_boost(fields.title, 2.0);
        // Lenient: whatever does not parse is searched as text, never an error.
        parser.parse_query_lenient(&parsed.text).0
    };
    clauses.push((Occur::Must, text_query.box_clone()));
    if let Some(readable) = readable_project_ids(connection, actor)? {
        clauses.push((Occur::Must, terms(fields.project_id, ids_of(readable))));
    }
    for (field, value) in &parsed.filters {
        if field == "created" || field == "updated" {
            let index_field = if field == "created" { fields.created } else { fields.updated };
            clauses.push((Occur::Must, date_range(field, index_field, value)?));
            continue;
        }
        let admitted = resolve_filter(connection, actor, field, value)?;
        let index_field = match field.as_str() {
            "project" => fields.project_id,
            "status" => fields.status_id,
            "assignee" => fields.assignee_id,
            "type" => fields.type_id,
            _ => fields.priority_id,
        };
        clauses.push((Occur::Must, terms(index_field, admitted)));
    }
    let combined = BooleanQuery::new(clauses);
    let total = searcher.search(&combined, &Count).map_err(|error| Error::internal("searching", error))?;
    let top = searcher
        .search(&combined, &TopDocs::with_limit(limit).and_offset(offset).order_by_score())
        .map_err(|error| Error::internal("searching", error))?;
    let highlighter = Highlighter::new(&searcher, &*text_query, &fields)?;
    let mut hits = Vec::new();
    for (score, address) in top {
        let document: TantivyDocument =
            searcher.doc(address).map_err(|error| Error::internal("reading a hit", error))?;
        let Some(id) = document.get_first(fields.item_id).and_then(|value| value.as_u64()) else { continue };
        // The database decides: an item deleted or no longer readable is left out.
        let Ok(item) = item::get(connection, actor, ItemId(i64::try_from(id).unwrap_or(0))) else { continue };
        let stored = |field| document.get_first(field).and_then(|value| value.as_str()).unwrap_or_default().to_string();
        let mut title_html = highlighter.title(&stored(fields.title));
        if title_html.is_empty() {
            title_html = escape(&item.title);
        }
        let snippet_html = highlighter.body(&stored(fields.body));
        hits.push(SearchHit { item, score, title_html, snippet_html });
    }
    Ok(SearchResults { total, limit, offset, hits, item: None })
}

/// Marks matches in stored text. Stemmed matches ("servers" for "server") are found through
/// the English and German fields, so snippets are built with those analyzers over the stored
/// text (offsets stay those of the original), falling back to the plain field.
struct Highlighter {
    titles: Vec<(Field, SnippetGenerator)>,
    bodies: Vec<(Field, SnippetGenerator)>,
}

impl Highlighter {
    fn new(searcher: &tantivy::Searcher, query: &dyn Query, fields: &Fields) -> Result<Highlighter> {
        let generator = |field: Field, max_chars: usize| -> Result<(Field, SnippetGenerator)> {
            let mut generator = SnippetGenerator::create(searcher, query, field)
                .map_err(|error| Error::internal("highlighting", error))?;
            generator.set_max_num_chars(max_chars);
            Ok((field, generator))
        };
        Ok(Highlighter {
            titles: vec![
                generator(fields.title_en, 300)?,
                generator(fields.title_de, 300)?,
                generator(fields.title, 300)?,
            ],
            bodies: vec![
                generator(fields.body_en, 200)?,
                generator(fields.body_de, 200)?,
                generator(fields.body, 200)?,
            ],
        })
    }

    fn best(generators: &[(Field, SnippetGenerator)], text: &str) -> String {
        let mut fallback = String::new();
        for (field, generator) in generators {
            let mut document = TantivyDocument::new();
            document.add_text(*field, text);
            let snippet = generator.snippet_from_doc(&document);
            if !snippet.highlighted().is_empty() {
                return snippet.to_html();
            }
            if fallback.is_empty() {
                fallback = snippet.to_html();
            }
        }
        fallback
    }

    fn title(&self, text: &str) -> String {
        Highlighter::best(&self.titles, text)
    }

    fn body(&self, text: &str) -> String {
        Highlighter::best(&self.bodies, text)
    }
}

/// `created:>2026-01-01` (after that day), `>=`, `<`, `<=`, or a bare day.
fn date_range(name: &str, field: Field, value: &str) -> Result<Box<dyn Query>> {
    use std::ops::Bound;
    let (operator, day) = ["<=", ">=", "<", ">"]
        .iter()
        .find_map(|operator| value.strip_prefix(operator).map(|day| (*operator, day)))
        .unwrap_or(("", value));
    let day = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").map_err(|_| {
        Error::invalid("q", format!("{name}: expects a date such as 2026-01-31, optionally after >, >=, < or <="))
    })?;
    let start = |day: chrono::NaiveDate| {
        let seconds = day.and_hms_opt(0, 0, 0).map(|time| time.and_utc().timestamp()).unwrap_or(0);
        Term::from_field_date_for_search(field, tantivy::DateTime::from_timestamp_secs(seconds))
    };
    let next = day.succ_opt().unwrap_or(day);
    let (lower, upper) = match operator {
        ">" => (Bound::Included(start(next)), Bound::Unbounded),
        ">=" => (Bound::Included(start(day)), Bound::Unbounded),
        "<" => (Bound::Unbounded, Bound::Excluded(start(day))),
        "<=" => (Bound::Unbounded, Bound::Excluded(start(next))),
        _ => (Bound::Included(start(day)), Bound::Excluded(start(next))),
    };
    Ok(Box::new(tantivy::query::RangeQuery::new(lower, upper)))
}

fn terms(field: tantivy::schema::Field, values: Vec<u64>) -> Box<dyn Query> {
    Box::new(TermSetQuery::new(values.into_iter().map(|value| Term::from_field_u64(field, value))))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_split_from_free_text() {
        let parsed = parse(r#"disk "out of space" project:OPS status:open -nightly"#);
        assert_eq!(parsed.text, r#"disk "out of space" -nightly"#);
        assert_eq!(parsed.filters, vec![("project".into(), "OPS".into()), ("status".into(), "open".into())]);
    }

    #[test]
    fn unbalanced_quotes_are_closed_and_unknown_fields_are_literal() {
        assert_eq!(parse(r#""half open"#).text, r#""half open""#);
        assert_eq!(parse("colour:red").text, r#""colour:red""#);
        assert_eq!(parse("-").text, "");
    }

    #[test]
    fn item_references() {
        assert_eq!(item_reference("#123"), Some(123));
        assert_eq!(item_reference(" 42 "), Some(42));
        assert_eq!(item_reference("#x"), None);
        assert_eq!(item_reference("0"), None);
    }
}
