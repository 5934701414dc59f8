//! The search query language and its execution. Free text (quoted phrases, `-word`, `OR`)
//! is parsed by Tantivy's query grammar and turned into stemmed term and phrase queries over
//! title and body (see `free_text`); `field:value` filters
//! are resolved against the database: `project:OPS`, `status:open|closed|<name>`,
//! `assignee:me|none|<login>`, `type:<name>`, `priority:<name>`, and a custom field by its
//! key with the list's conditions (`customer:ACME`, `estimate:>5`, `severity:none`; see
//! `model::field::filter`); the structure of items: `parent:#12` or `parent:OPS-12` (its sub-items), `blocks:#40`
//! (the items that block it), `is:blocked` (items an open item blocks); planning:
//! `label:ui`, `version:"2.1"`, `component:backend` by name (`none` for no version or
//! component). Any filter with `-` first excludes what it admits (`-label:later`). An unknown
//! field is searched as literal text. A bare `#123`, `123` or key (`OPS-42`, also one the item had
//! before a move) opens that item; a key no readable item has is searched as text. Results are
//! limited to the caller's readable projects inside the query and re-checked against the
//! database.

use std::collections::{BTreeMap, BTreeSet};

use diesel::prelude::*;
use serde::Serialize;
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{AllQuery, BooleanQuery, BoostQuery, Occur, PhraseQuery, Query, TermQuery, TermSetQuery};
use tantivy::query_grammar::{UserInputAst, UserInputLeaf};
use tantivy::schema::{Field, IndexRecordOption, Value};
use tantivy::snippet::SnippetGenerator;
use tantivy::{Searcher, TantivyDocument, Term};

use crate::db::DbConnection;
use crate::db::schema::{components, item_labels, item_links, items, labels, projects, statuses, users, versions};
use crate::error::{Error, Result};
use crate::model::definitions::Version;
use crate::model::field::Catalog;
use crate::model::field::filter::{self as field_filter, restrict_by_field};
use crate::model::html::escape;
use crate::model::ids::{ItemId, ProjectId};
use crate::model::item::key::ItemReference;
use crate::model::item::{self, ItemView};
use crate::model::link;
use crate::model::permission::{self, readable_project_ids};
use crate::model::text::name_key;
use crate::model::user::User;
use crate::model::workflow::Workflow;
use crate::search::coverage::StemCoverage;
use crate::search::fields::Fields;
use crate::search::reader::SearchIndex;
use crate::search::snippet;

pub const MAX_QUERY_CHARS: usize = 1000;
pub const MAX_PAGE: usize = 100;
/// The deepest page: the collector keeps `offset + limit` hits per segment in memory, so an
/// unbounded offset (10^12 asks for terabytes) would abort the node. The search page goes
/// to page 1000 of 20.
pub const MAX_OFFSET: usize = 20_000;

#[derive(Debug, Clone, Serialize)]
pub struct SearchHit {
    pub item: ItemView,
    pub score: f32,
    /// The title with matches in `<b>…</b>`, HTML-escaped.
    pub title_html: String,
    /// The best matching fragment of description, comments and file names as plain text (the
    /// words of the Markdown, `search::snippet`), HTML-escaped.
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
    /// What the query was taken to mean where that may not be what its writer meant: an item
    /// reference naming no item they can see, a `word:` that is not a filter.
    pub notes: Vec<String>,
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Parsed {
    text: String,
    filters: Vec<(String, String)>,
    /// Filters written with `-` first: what they admit is left out.
    excluded: Vec<(String, String)>,
    /// Conditions on custom fields: (key, condition).
    custom: Vec<(String, String)>,
    /// Words written as `word:value` whose word is no filter (searched as text).
    not_filters: Vec<String>,
}

const FILTER_FIELDS: &[&str] = &[
    "project",
    "status",
    "assignee",
    "type",
    "priority",
    "created",
    "updated",
    "parent",
    "blocks",
    "is",
    "label",
    "version",
    "component",
];

/// Splits the query into free text and known `field:value` filters; quotes are kept (and
/// closed when unbalanced); unknown fields become literal phrases.
fn parse(query: &str, custom_keys: &[&str]) -> Parsed {
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
                if FILTER_FIELDS.contains(&field.to_ascii_lowercase().trim_start_matches('-')) && !value.is_empty() =>
            {
                let field = field.to_ascii_lowercase();
                let value = value.trim_matches('"').to_string();
                match field.strip_prefix('-') {
                    Some(field) => parsed.excluded.push((field.to_string(), value)),
                    None => parsed.filters.push((field, value)),
                }
            }
            Some((field, value)) if custom_keys.contains(&field) && !value.is_empty() => {
                parsed.custom.push((field.to_string(), value.trim_matches('"').to_string()));
            }
            Some((field, value)) => {
                // A URL (`https://…`) or a time (`10:30`) is text anyway.
                let word =
                    field.starts_with(char::is_alphabetic) && field.chars().all(|c| c.is_alphanumeric() || c == '_');
                if word && !value.starts_with("//") {
                    parsed.not_filters.push(token.clone());
                }
                text.push(format!("\"{}\"", token.replace('"', "")));
            }
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

/// The index values a filter admits. A value that names nothing the actor can see is refused
/// with a message naming it and what would do (a status, type or priority by its name, a
/// readable project by its key, a person by login), since a search that silently finds nothing
/// looks like an answer.
fn resolve_filter(
    connection: &mut DbConnection,
    actor: &User,
    readable: Option<&[ProjectId]>,
    field: &str,
    value: &str,
) -> Result<Vec<u64>> {
    let lower = value.to_lowercase();
    let admitted = match field {
        "project" => {
            let found: Vec<ProjectId> = projects::table
                .filter(projects::key.eq(value.to_ascii_uppercase()))
                .select(projects::id)
                .load(connection)?;
            let seen: Vec<i64> = found
                .into_iter()
                .filter(|id| readable.is_none_or(|readable| readable.contains(id)))
                .map(i64::from)
                .collect();
            if seen.is_empty() {
                return Err(Error::invalid("q", format!("project:{value} names no project you can read")));
            }
            ids_of(seen)
        }
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
            let admitted: Vec<i64> =
                named.iter().filter(|(_, name)| name.to_lowercase() == lower).map(|(id, _)| *id).collect();
            if admitted.is_empty() {
                let mut names: Vec<String> = named.iter().map(|(_, name)| quoted_if_spaced(name)).collect();
                if field == "status" {
                    names.splice(0..0, ["open".to_string(), "closed".to_string()]);
                }
                return Err(Error::invalid(
                    "q",
                    format!("{field}:{value} names no {field}: use one of {}", names.join(", ")),
                ));
            }
            ids_of(admitted)
        }
        "assignee" if lower == "me" => ids_of(vec![actor.id.0]),
        "assignee" if lower == "none" => vec![0],
        _ => {
            let found = ids_of(users::table.filter(users::login.eq(&lower)).select(users::id).load(connection)?);
            if found.is_empty() {
                return Err(Error::invalid(
                    "q",
                    format!("assignee:{value} names no user: use me, none or a login such as assignee:ann"),
                ));
            }
            found
        }
    };
    Ok(admitted)
}

/// A name as a query writes it: in quotes when it has a space (`status:"In progress"`).
fn quoted_if_spaced(name: &str) -> String {
    if name.contains(char::is_whitespace) { format!("\"{name}\"") } else { name.to_string() }
}

/// The items a structure filter admits: `parent:#12` (its sub-items), `blocks:#40` (the items
/// that block it), `is:blocked` (the items an open item blocks). An item the actor cannot read
/// admits nothing, and only blockers the actor can read make an item blocked: the filters tell
/// nothing of what the actor cannot see.
fn items_by_structure(
    connection: &mut DbConnection,
    actor: &User,
    readable: Option<&[ProjectId]>,
    field: &str,
    value: &str,
) -> Result<Vec<i64>> {
    if field == "is" {
        if !value.eq_ignore_ascii_case("blocked") {
            return Err(Error::invalid("q", format!("is:{value} is not a filter: use is:blocked")));
        }
        let blocker = diesel::alias!(items as blocker);
        let mut query = item_links::table
            .inner_join(blocker.on(blocker.field(items::id).eq(item_links::source_id)))
            .inner_join(statuses::table.on(statuses::id.eq(blocker.field(items::status_id))))
            .filter(item_links::kind.eq(link::Kind::Blocks.as_str()))
            .filter(statuses::is_closed.eq(false))
            .select(item_links::target_id)
            .distinct()
            .into_boxed();
        if let Some(readable) = readable {
            query = query.filter(blocker.field(items::project_id).eq_any(readable.to_vec()));
        }
        return Ok(query.load(connection)?);
    }
    let reference = ItemReference::parse(value).ok_or_else(|| {
        Error::invalid("q", format!("{field}:{value} does not name an item: write it as {field}:#12 or {field}:OPS-12"))
    })?;
    let named =
        match reference.resolve(connection, actor).and_then(|id| permission::readable_item(connection, actor, id)) {
            Ok(readable) => readable.id(),
            Err(Error::NotFound(_)) => return Ok(Vec::new()),
            Err(error) => return Err(error),
        };
    Ok(match field {
        "parent" => items::table.filter(items::parent_id.eq(named)).select(items::id).load(connection)?,
        _ => item_links::table
            .filter(item_links::kind.eq(link::Kind::Blocks.as_str()))
            .filter(item_links::target_id.eq(named))
            .select(item_links::source_id)
            .load(connection)?,
    })
}

/// The items of the readable projects that a planning filter admits: `label:<name>` (items
/// carrying a label of that name), `version:<name>` and `component:<name>` (items planned for a
/// version, in a component, of that name; `none` for none), names without regard to case.
fn items_by_planning(
    connection: &mut DbConnection,
    readable: Option<&[ProjectId]>,
    field: &str,
    value: &str,
) -> Result<Vec<i64>> {
    let key = name_key(value.trim());
    let none = key == "none";
    let mut query = items::table.select(items::id).into_boxed();
    if let Some(readable) = readable {
        query = query.filter(items::project_id.eq_any(readable.to_vec()));
    }
    query = match field {
        "label" => query.filter(items::id.eq_any(
            item_labels::table.inner_join(labels::table).filter(labels::name_key.eq(key)).select(item_labels::item_id),
        )),
        "version" if none => query.filter(items::target_version_id.is_null()),
        "version" => query.filter(
            items::target_version_id
                .eq_any(versions::table.filter(versions::name_key.eq(key)).select(versions::id.nullable())),
        ),
        _ if none => query.filter(items::component_id.is_null()),
        _ => query.filter(
            items::component_id
                .eq_any(components::table.filter(components::name_key.eq(key)).select(components::id.nullable())),
        ),
    };
    Ok(query.load(connection)?)
}

/// The items satisfying a custom field condition (the database decides, as for lists).
fn items_with_field(
    connection: &mut DbConnection,
    catalog: &Catalog,
    actor: &User,
    key: &str,
    condition: &str,
) -> Result<Vec<i64>> {
    let condition = field_filter::parse(catalog, key, condition, actor.id).map_err(|error| match error {
        Error::Invalid(refusal) => Error::invalid("q", format!("{key}:{}", refusal.message)),
        other => other,
    })?;
    Ok(restrict_by_field!(items::table.select(items::id).into_boxed(), &condition).load(connection)?)
}

pub fn search(
    connection: &mut DbConnection,
    index: &SearchIndex,
    actor: &User,
    version: &Version,
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
    if offset > MAX_OFFSET {
        return Err(Error::invalid("offset", format!("must be at most {MAX_OFFSET}: narrow the query instead")));
    }
    // Filters are looked up in the database, which refuses a NUL in text.
    if query.contains('\0') {
        return Err(Error::invalid("q", "must not contain NUL characters (U+0000)"));
    }
    if let Some(reference) = ItemReference::parse(query) {
        let found = match reference.resolve(connection, actor).and_then(|id| item::get(connection, actor, id)) {
            Ok(view) => Some(view),
            // Also an item the actor may not see: search does not tell it exists. Text shaped
            // like a key that no readable item has is searched for as text (a part number).
            Err(Error::NotFound(_)) if matches!(reference, ItemReference::Key { .. }) => None,
            Err(Error::NotFound(_)) => {
                let notes = vec![format!("No item {} you can see.", query.trim())];
                return Ok(SearchResults { total: 0, limit, offset, hits: Vec::new(), item: None, notes });
            }
            Err(error) => return Err(error),
        };
        if found.is_some() {
            return Ok(SearchResults { total: 1, limit, offset, hits: Vec::new(), item: found, notes: Vec::new() });
        }
    }
    let mut notes = Vec::new();
    if let Some(ItemReference::Key { .. }) = ItemReference::parse(query) {
        notes.push(format!("No item {} you can see; searched for it as text.", query.trim()));
    }
    // Held to the end: the commit's files stay recorded as in use while this search runs.
    let open = index.searcher()?;
    let (searcher, fields) = (&open.searcher, open.fields);
    let catalog = Catalog::at(connection, version)?;
    let custom_keys: Vec<&str> = catalog.fields.iter().map(|field| field.key.as_str()).collect();
    let parsed = parse(query, &custom_keys);
    for written in &parsed.not_filters {
        let word = written.split(':').next().unwrap_or_default();
        notes.push(format!(
            "{word}: is not a filter, so {written} was searched as text. Filters: {}{}.",
            FILTER_FIELDS.join(", "),
            custom_keys.iter().map(|key| format!(", {key}")).collect::<String>()
        ));
    }
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    let text = TextTerms { field: fields.text, searcher, coverage: &index.coverage };
    let text_query = text.free_text(&parsed.text);
    clauses.push((Occur::Must, text_query.box_clone()));
    let readable = readable_project_ids(connection, actor)?;
    if let Some(readable) = &readable {
        clauses.push((
            Occur::Must,
            terms(fields.project_id, ids_of(readable.iter().map(|&project| i64::from(project)).collect())),
        ));
    }
    let filters = parsed.filters.iter().map(|filter| (Occur::Must, filter));
    for (occur, (field, value)) in filters.chain(parsed.excluded.iter().map(|filter| (Occur::MustNot, filter))) {
        if field == "created" || field == "updated" {
            let index_field = if field == "created" { fields.created } else { fields.updated };
            clauses.push((occur, date_range(field, index_field, value)?));
            continue;
        }
        if matches!(field.as_str(), "parent" | "blocks" | "is") {
            let admitted = items_by_structure(connection, actor, readable.as_deref(), field, value)?;
            clauses.push((occur, terms(fields.item_id, ids_of(admitted))));
            continue;
        }
        if matches!(field.as_str(), "label" | "version" | "component") {
            let admitted = items_by_planning(connection, readable.as_deref(), field, value)?;
            clauses.push((occur, terms(fields.item_id, ids_of(admitted))));
            continue;
        }
        let admitted = resolve_filter(connection, actor, readable.as_deref(), field, value)?;
        let index_field = match field.as_str() {
            "project" => fields.project_id,
            "status" => fields.status_id,
            "assignee" => fields.assignee_id,
            "type" => fields.type_id,
            _ => fields.priority_id,
        };
        clauses.push((occur, terms(index_field, admitted)));
    }
    for (key, condition) in &parsed.custom {
        let admitted = items_with_field(connection, &catalog, actor, key, condition)?;
        clauses.push((Occur::Must, terms(fields.item_id, ids_of(admitted))));
    }
    let combined: Box<dyn Query> =
        if clauses.len() == 1 { text_query.box_clone() } else { Box::new(BooleanQuery::new(clauses)) };
    let best = TopDocs::with_limit(limit).and_offset(offset).order_by_score();
    let (total, top) = if prunable(&*combined) {
        // An unscored count is cheap, and the best page skips what cannot compete.
        let total = searcher.search(&*combined, &Count).map_err(|error| Error::internal("searching", error))?;
        (total, searcher.search(&*combined, &best).map_err(|error| Error::internal("searching", error))?)
    } else {
        // Every match is scored anyway: one pass counts them as well.
        searcher.search(&*combined, &(Count, best)).map_err(|error| Error::internal("searching", error))?
    };
    let mut found = Vec::with_capacity(top.len());
    for (score, address) in top {
        let document: TantivyDocument =
            searcher.doc(address).map_err(|error| Error::internal("reading a hit", error))?;
        let Some(id) = document.get_first(fields.item_id).and_then(|value| value.as_u64()) else { continue };
        let Ok(id) = i64::try_from(id) else { continue };
        found.push((id, score, document));
    }
    // The database decides: an item deleted or no longer readable is left out.
    let ids: Vec<ItemId> = found.iter().map(|(id, ..)| ItemId(*id)).collect();
    let mut views = item::readable_views(connection, &ids, readable.as_deref())?;
    let highlighter = Highlighter::new(searcher, &*text_query, &fields)?;
    let mut hits = Vec::with_capacity(found.len());
    for (id, score, document) in found {
        let Some(position) = views.iter().position(|view| view.id.0 == id) else { continue };
        let item = views.swap_remove(position);
        let stored = |field| document.get_first(field).and_then(|value| value.as_str()).unwrap_or_default();
        let mut title_html = highlighter.title.snippet(stored(fields.title)).to_html();
        if title_html.is_empty() {
            title_html = escape(&item.title);
        }
        let snippet_html = snippet::plain_html(&highlighter.body.snippet(stored(fields.body)));
        hits.push(SearchHit { item, score, title_html, snippet_html });
    }
    Ok(SearchResults { total, limit, offset, hits, item: None, notes })
}

/// Turns free text into a query on the text field of one searcher.
struct TextTerms<'a> {
    field: Field,
    searcher: &'a Searcher,
    coverage: &'a StemCoverage,
}

impl TextTerms<'_> {
    /// Free text as a query: words and quoted phrases must all occur in `text` (`OR` between
    /// them, `-word` and parentheses as usual), each word through the index analyzer so any of
    /// its stems matches, phrases on the English stems in order. Whatever does not parse is
    /// searched as text, never an error.
    fn free_text(&self, text: &str) -> Box<dyn Query> {
        let (ast, _) = tantivy::query_grammar::parse_query_lenient(text);
        self.ast_query(&ast).unwrap_or_else(|| Box::new(AllQuery))
    }

    fn ast_query(&self, ast: &UserInputAst) -> Option<Box<dyn Query>> {
        match ast {
            UserInputAst::Clause(clauses) => {
                let mut converted: Vec<(Occur, Box<dyn Query>)> = clauses
                    .iter()
                    .filter_map(|(occur, clause)| Some((occur.unwrap_or(Occur::Must), self.ast_query(clause)?)))
                    .collect();
                if converted.iter().all(|(occur, _)| *occur == Occur::MustNot) {
                    if converted.is_empty() {
                        return None;
                    }
                    converted.push((Occur::Must, Box::new(AllQuery)));
                }
                if converted.len() == 1 {
                    return converted.pop().map(|(_, query)| query);
                }
                Some(Box::new(BooleanQuery::new(converted)))
            }
            UserInputAst::Boost(inner, factor) => {
                let query = self.ast_query(inner)?;
                Some(Box::new(BoostQuery::new(query, factor.into_inner() as f32)))
            }
            UserInputAst::Leaf(leaf) => match leaf.as_ref() {
                UserInputLeaf::Literal(literal) => self.literal_query(&literal.phrase, literal.slop),
                // Field syntax never reaches here: `parse` made every `field:value` a phrase.
                _ => None,
            },
        }
    }

    /// One word or phrase: the stems at each position, as the index analyzer produces them.
    fn literal_query(&self, phrase: &str, slop: u32) -> Option<Box<dyn Query>> {
        let mut analyzer = Fields::analyzer();
        let mut stream = analyzer.token_stream(phrase);
        let mut positions: Vec<(usize, Vec<String>)> = Vec::new();
        while stream.advance() {
            let token = stream.token();
            match positions.last_mut() {
                Some((position, stems)) if *position == token.position => stems.push(token.text.clone()),
                _ => positions.push((token.position, vec![token.text.clone()])),
            }
        }
        let field = self.field;
        match positions.as_slice() {
            [] => None,
            [(_, stems)] => {
                let mut any: Vec<Box<dyn Query>> = self
                    .coverage
                    .needed(self.searcher, field, stems)
                    .iter()
                    .map(|stem| {
                        Box::new(TermQuery::new(Term::from_field_text(field, stem), IndexRecordOption::WithFreqs))
                            as Box<dyn Query>
                    })
                    .collect();
                if any.len() == 1 { any.pop() } else { Some(Box::new(BooleanQuery::union(any))) }
            }
            [(first, _), ..] => {
                // Every position has its English stem (the first) indexed.
                let terms = positions
                    .iter()
                    .map(|(position, stems)| (position - first, Term::from_field_text(field, &stems[0])))
                    .collect();
                Some(Box::new(PhraseQuery::new_with_offset_and_slop(terms, slop)))
            }
        }
    }
}

/// Whether tantivy finds the best hits without scoring every match (block-max WAND): a
/// term query, or all-required or all-optional term queries.
fn prunable(query: &dyn Query) -> bool {
    if query.is::<TermQuery>() {
        return true;
    }
    query.downcast_ref::<BooleanQuery>().is_some_and(|boolean| {
        let clauses = boolean.clauses();
        clauses
            .iter()
            .all(|(occur, clause)| *occur == clauses[0].0 && *occur != Occur::MustNot && clause.is::<TermQuery>())
    })
}

/// Marks matches in stored text, found by running the index analyzer over it (offsets stay
/// those of the original) — as a highlighter of the query's terms (`Fields::highlighter`).
struct Highlighter {
    title: SnippetGenerator,
    body: SnippetGenerator,
}

impl Highlighter {
    fn new(searcher: &tantivy::Searcher, query: &dyn Query, fields: &Fields) -> Result<Highlighter> {
        // The query's terms in the text field, each weighed as tantivy's own generator does:
        // the rarer, the more a fragment holding it counts.
        let mut terms: BTreeSet<&Term> = BTreeSet::new();
        query.query_terms(&mut |term, _| {
            if term.field() == fields.text {
                terms.insert(term);
            }
        });
        let mut weights: BTreeMap<String, f32> = BTreeMap::new();
        for term in terms {
            let value = term.value();
            let Some(text) = value.as_str() else { continue };
            let documents = searcher.doc_freq(term).map_err(|error| Error::internal("highlighting", error))?;
            if documents > 0 {
                weights.insert(text.to_string(), 1.0 / (1.0 + documents as f32));
            }
        }
        let analyzer = Fields::highlighter(weights.keys().map(String::as_str));
        let generator =
            |max_chars: usize| SnippetGenerator::new(weights.clone(), analyzer.clone(), fields.text, max_chars);
        Ok(Highlighter { title: generator(300), body: generator(200) })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_split_from_free_text() {
        let parsed = parse(r#"disk "out of space" project:OPS status:open -nightly customer:ACME"#, &["customer"]);
        assert_eq!(parsed.text, r#"disk "out of space" -nightly"#);
        assert_eq!(parsed.filters, vec![("project".into(), "OPS".into()), ("status".into(), "open".into())]);
        assert_eq!(parsed.custom, vec![("customer".into(), "ACME".into())]);
    }

    #[test]
    fn planning_filters_and_exclusions() {
        let parsed = parse(r#"crash label:ui -label:later version:"2.1 beta" -component:none"#, &[]);
        assert_eq!(parsed.text, "crash");
        assert_eq!(parsed.filters, vec![("label".into(), "ui".into()), ("version".into(), "2.1 beta".into())]);
        assert_eq!(parsed.excluded, vec![("label".into(), "later".into()), ("component".into(), "none".into())]);
    }

    #[test]
    fn unbalanced_quotes_are_closed_and_unknown_fields_are_literal() {
        assert_eq!(parse(r#""half open"#, &[]).text, r#""half open""#);
        assert_eq!(parse("colour:red", &[]).text, r#""colour:red""#);
        assert_eq!(parse("colour:red https://example.com at 10:30", &[]).not_filters, ["colour:red"]);
        assert_eq!(parse("-", &[]).text, "");
    }

    #[test]
    fn a_german_stem_is_queried_only_where_it_finds_more() {
        let index = tantivy::Index::create_in_ram(Fields::schema());
        let fields = Fields::of(&index).unwrap();
        let mut writer: tantivy::IndexWriter = index.writer(15_000_000).unwrap();
        for text in ["Printed pages are missing", "Den Druckern fehlt Papier"] {
            writer.add_document(tantivy::doc!(fields.text => text)).unwrap();
        }
        writer.commit().unwrap();
        let searcher = index.reader().unwrap().searcher();
        let stems = |word: &str| {
            let mut analyzer = Fields::analyzer();
            let mut stream = analyzer.token_stream(word);
            let mut stems = Vec::new();
            while stream.advance() {
                stems.push(stream.token().text.clone());
            }
            stems
        };
        let coverage = StemCoverage::default();
        // Every document with the German stem of "pages" (pag) has its English one (page).
        assert_eq!(stems("pages"), ["page", "pag"]);
        assert_eq!(coverage.needed(&searcher, fields.text, &stems("pages")), ["page"]);
        // "Druckern" is indexed as druckern and druck: "Drucker" needs its German stem.
        assert_eq!(stems("Drucker"), ["drucker", "druck"]);
        assert_eq!(coverage.needed(&searcher, fields.text, &stems("Drucker")), ["drucker", "druck"]);
        assert_eq!(coverage.adds.lock().unwrap().len(), 2, "one answer per segment and stem pair");
        let text = TextTerms { field: fields.text, searcher: &searcher, coverage: &coverage };
        for (query, expected) in [("Drucker", 1), ("pages", 1), ("drucker papier", 1), ("page drucker", 0)] {
            assert_eq!(searcher.search(&*text.free_text(query), &Count).unwrap(), expected, "{query}");
        }
    }
}
