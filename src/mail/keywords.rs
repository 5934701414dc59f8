//! Custom field values set by a mail that creates an item: lines such as `Customer: ACME` at
//! the start of the body (Redmine's keywords), named by the field's name or key, for the
//! fields that apply to the mailbox's project and the default type; and the planning lines
//! `Parent: #12` (a sub-item of an item of that project), `Version: 2.1` (an open version of
//! the project or a shared one; the sender needs the developer role), `Labels: ui, backend`
//! and `Component: backend`, by name without regard to case (a custom field of the same name
//! comes first). Each value is checked as the form checks it; the lines are taken out of the
//! description. A value that is refused does not stop the item: it is named, with the reason,
//! in the item's first comment.

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::items;
use crate::error::{Error, Result};
use crate::model::field::value;
use crate::model::field::{Catalog, Field, FieldType};
use crate::model::ids::{ComponentId, ItemId, LabelId, ProjectId, TypeId, VersionId};
use crate::model::project::Project;
use crate::model::{component, label, membership, user, version};

/// Longest label taken for a field's name.
const MAX_LABEL_CHARS: usize = 80;

/// What the keywords of a mail set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Keywords {
    /// Values by key, for `NewItem::fields`.
    pub fields: Vec<(String, serde_json::Value)>,
    /// The item a `Parent:` line names, for `NewItem::parent`.
    pub parent: Option<ItemId>,
    pub target_version: Option<VersionId>,
    pub labels: Vec<LabelId>,
    pub component: Option<ComponentId>,
    /// "Name: reason" for each value refused.
    pub refused: Vec<String>,
    /// The body without the keyword lines.
    pub text: String,
}

/// The field a line's label names: its name (without regard to case) or its key.
fn named<'a>(applying: &[&'a Field], label: &str) -> Option<&'a Field> {
    let label = label.trim();
    if label.is_empty() || label.chars().count() > MAX_LABEL_CHARS {
        return None;
    }
    applying.iter().copied().find(|field| field.name.eq_ignore_ascii_case(label) || field.key == label)
}

/// A user named by login or e-mail address, who must be an active member of the project.
fn member(connection: &mut DbConnection, project: ProjectId, field: &Field, text: &str) -> Result<serde_json::Value> {
    let found = match user::find_by_login(connection, &text.to_lowercase())? {
        Some(found) => Some(found),
        None => user::find_by_email(connection, text)?,
    };
    match found {
        Some(found) if membership::is_active_member(connection, project, found.id)? => {
            Ok(serde_json::Value::from(found.id.0))
        }
        _ => Err(Error::invalid(field.input_name(), format!("{text:?} is not an active member of the project"))),
    }
}

/// The JSON value of one keyword line, checked like the form's.
fn value_of(connection: &mut DbConnection, project: ProjectId, field: &Field, text: &str) -> Result<serde_json::Value> {
    let json = match field.field_type {
        FieldType::User => member(connection, project, field, text.trim())?,
        FieldType::MultiChoice => {
            let parts: Vec<String> = text.split(',').map(|part| part.trim().to_string()).collect();
            value::from_form(field.field_type, &field.input_name(), &parts)?
        }
        _ => value::from_form(field.field_type, &field.input_name(), &[text.to_string()])?,
    };
    value::parse(field, &json, None)?;
    Ok(json)
}

/// The planning lines, by label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Planning {
    Parent,
    Version,
    Labels,
    Component,
}

impl Planning {
    const ALL: [Planning; 4] = [Planning::Parent, Planning::Version, Planning::Labels, Planning::Component];

    fn label(self) -> &'static str {
        match self {
            Planning::Parent => "Parent",
            Planning::Version => "Version",
            Planning::Labels => "Labels",
            Planning::Component => "Component",
        }
    }

    fn named(label: &str) -> Option<Planning> {
        Planning::ALL.into_iter().find(|line| line.label().eq_ignore_ascii_case(label.trim()))
    }

    /// Whether the keywords hold a value of this line already.
    fn given(self, keywords: &Keywords) -> bool {
        match self {
            Planning::Parent => keywords.parent.is_some(),
            Planning::Version => keywords.target_version.is_some(),
            Planning::Labels => !keywords.labels.is_empty(),
            Planning::Component => keywords.component.is_some(),
        }
    }

    /// Checks the line's value and keeps it.
    fn take(self, connection: &mut DbConnection, to: &Destination, text: &str, keywords: &mut Keywords) -> Result<()> {
        let project = to.project;
        match self {
            Planning::Parent => keywords.parent = Some(parent_of(connection, project.id, text)?),
            Planning::Version => {
                if !to.may_plan {
                    return Err(Error::invalid("target_version", "planning for a version needs the developer role"));
                }
                let id = version::named(connection, project, text)?;
                keywords.target_version = Some(version::check_target(connection, project, id, None)?.id);
            }
            Planning::Labels => {
                let names: Vec<String> =
                    text.split(',').map(|name| name.trim().to_string()).filter(|name| !name.is_empty()).collect();
                let ids = label::named(connection, project, &names)?;
                keywords.labels =
                    label::check_set(connection, project, &ids)?.into_iter().map(|found| found.id).collect();
            }
            Planning::Component => keywords.component = Some(component::named(connection, project, text)?),
        }
        Ok(())
    }
}

/// Where the mail's item goes: the project, and whether its sender may plan versions there.
pub struct Destination<'a> {
    pub project: &'a Project,
    pub item_type: TypeId,
    pub may_plan: bool,
}

/// The item a `Parent:` line names (`#12` or `12`): one of the project's.
fn parent_of(connection: &mut DbConnection, project: ProjectId, text: &str) -> Result<ItemId> {
    let number = text.trim().trim_start_matches('#');
    let id =
        number.parse().map(ItemId).map_err(|_| Error::invalid("parent", format!("{text:?} is not an item number")))?;
    let in_project: Option<ProjectId> = items::table.find(id).select(items::project_id).first(connection).optional()?;
    match in_project {
        Some(found) if found == project => Ok(id),
        _ => Err(Error::invalid("parent", format!("there is no item {id} in this project"))),
    }
}

/// Reads the keyword lines at the start of `text` (blank lines before them are skipped; the
/// first line that names no field ends them).
pub fn read(connection: &mut DbConnection, catalog: &Catalog, to: &Destination, text: &str) -> Result<Keywords> {
    let project = to.project.id;
    let applying: Vec<&Field> = catalog.applying(project, to.item_type).collect();
    let mut keywords = Keywords::default();
    let mut lines = text.lines().peekable();
    while lines.next_if(|line| line.trim().is_empty()).is_some() {}
    let mut taken = 0;
    while let Some(line) = lines.peek() {
        let Some((label, raw)) = line.split_once(':') else { break };
        let field = named(&applying, label);
        if field.is_none()
            && let Some(line) = Planning::named(label)
        {
            lines.next();
            taken += 1;
            if line.given(&keywords) {
                keywords.refused.push(format!("{}: given more than once; the first value was kept", line.label()));
                continue;
            }
            match line.take(connection, to, raw, &mut keywords) {
                Ok(()) => {}
                Err(Error::Invalid(refusal)) => keywords.refused.push(format!("{}: {}", line.label(), refusal.message)),
                Err(other) => return Err(other),
            }
            continue;
        }
        let Some(field) = field else { break };
        lines.next();
        taken += 1;
        if keywords.fields.iter().any(|(key, _)| *key == field.key) {
            keywords.refused.push(format!("{}: given more than once; the first value was kept", field.name));
            continue;
        }
        match value_of(connection, project, field, raw.trim()) {
            Ok(json) => keywords.fields.push((field.key.clone(), json)),
            Err(Error::Invalid(refusal)) => keywords.refused.push(format!("{}: {}", field.name, refusal.message)),
            Err(other) => return Err(other),
        }
    }
    keywords.text =
        if taken == 0 { text.to_string() } else { lines.collect::<Vec<_>>().join("\n").trim_start().to_string() };
    Ok(keywords)
}

/// The first comment of an item whose mail had refused keywords.
pub fn refusal_comment(refused: &[String]) -> String {
    let lines: Vec<String> = refused.iter().map(|line| format!("- {line}")).collect();
    format!("These fields from the mail were not set:\n\n{}", lines.join("\n"))
}
