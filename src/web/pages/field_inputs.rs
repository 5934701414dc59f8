//! Custom fields on the item forms: one input per field that applies (the browser's own date
//! picker, selects for choices and members, check boxes for multiple choice), the texts sent
//! back (`field.<key>`, repeated for multiple choice), and their conversion to the values the
//! model checks — so a form goes through exactly the API's rules and shows what was typed
//! again when they refuse it.

use crate::error::Result;
use crate::model::field::value::{self, FieldValues, Shown};
use crate::model::field::{Catalog, Field, FieldType};
use crate::model::ids::{ProjectId, TypeId};
use crate::model::membership::Member;

/// Form names of custom fields start with this.
pub const PREFIX: &str = "field.";

/// What a form holds for custom fields: texts by key (several for multiple choice).
#[derive(Debug, Clone, Default)]
pub struct FieldTexts(Vec<(String, Vec<String>)>);

impl FieldTexts {
    /// The `field.<key>` pairs of a submitted form. A multiple choice sends an empty marker
    /// so that unticking every box clears it.
    pub fn from_pairs(pairs: &[(String, String)]) -> FieldTexts {
        let mut texts: Vec<(String, Vec<String>)> = Vec::new();
        for (name, text) in pairs {
            let Some(key) = name.strip_prefix(PREFIX) else { continue };
            match texts.iter_mut().find(|(known, _)| known == key) {
                Some((_, sent)) => sent.push(text.clone()),
                None => texts.push((key.to_string(), vec![text.clone()])),
            }
        }
        FieldTexts(texts)
    }

    /// The item's values as the form shows them.
    pub fn of_item(fields: &FieldValues) -> FieldTexts {
        FieldTexts(
            fields
                .0
                .iter()
                .map(|field| {
                    let texts = match &field.value {
                        None => Vec::new(),
                        Some(Shown::Choices(names)) => names.clone(),
                        Some(Shown::User(user)) => vec![user.id.to_string()],
                        Some(Shown::Boolean(flag)) => vec![if *flag { "yes" } else { "no" }.to_string()],
                        Some(shown) => vec![shown.text()],
                    };
                    (field.key.clone(), texts)
                })
                .collect(),
        )
    }

    pub fn texts(&self, key: &str) -> &[String] {
        self.0.iter().find(|(known, _)| known == key).map(|(_, texts)| texts.as_slice()).unwrap_or(&[])
    }

    /// The one text of a single-valued field.
    pub fn text(&self, key: &str) -> &str {
        self.texts(key).iter().find(|text| !text.is_empty()).map(String::as_str).unwrap_or("")
    }

    /// Whether the form holds this text (a chosen option or a ticked box).
    pub fn holds(&self, key: &str, text: &str) -> bool {
        self.texts(key).iter().any(|held| held == text)
    }

    /// The values to send to the model: every field the form had, typed for its field. An
    /// unknown key goes through as text, for the model to refuse by name.
    pub fn to_values(&self, catalog: &Catalog) -> Result<Vec<(String, serde_json::Value)>> {
        self.0
            .iter()
            .map(|(key, texts)| {
                let json = match catalog.by_key(key) {
                    Some(field) => value::from_form(field.field_type, &field.input_name(), texts)?,
                    None => serde_json::Value::String(texts.join(",")),
                };
                Ok((key.clone(), json))
            })
            .collect()
    }

    /// The defaults of these fields, for a form shown for the first time.
    pub fn defaults(catalog: &Catalog, inputs: &[FieldInput]) -> FieldTexts {
        FieldTexts(
            inputs
                .iter()
                .filter_map(|input| {
                    let default = catalog.by_key(&input.key)?.default.as_ref()?;
                    let texts = match default {
                        serde_json::Value::String(text) => vec![text.clone()],
                        serde_json::Value::Array(values) => {
                            values.iter().filter_map(|value| value.as_str().map(str::to_string)).collect()
                        }
                        serde_json::Value::Bool(flag) => vec![if *flag { "yes" } else { "no" }.to_string()],
                        other => vec![other.to_string()],
                    };
                    Some((input.key.clone(), texts))
                })
                .collect(),
        )
    }

    /// These texts, and `others` for the keys these lack.
    pub fn or(mut self, others: FieldTexts) -> FieldTexts {
        for (key, texts) in others.0 {
            if !self.0.iter().any(|(known, _)| *known == key) {
                self.0.push((key, texts));
            }
        }
        self
    }

    /// Only the keys of fields that apply here, for a form re-shown for another project or type.
    pub fn keep_applying(self, inputs: &[FieldInput]) -> FieldTexts {
        FieldTexts(self.0.into_iter().filter(|(key, _)| inputs.iter().any(|input| input.key == *key)).collect())
    }
}

/// How a field is entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Line,
    Lines,
    Whole,
    Number,
    Date,
    YesNo,
    Select,
    Boxes,
    Link,
}

/// One custom field's input on a form.
#[derive(Debug, Clone)]
pub struct FieldInput {
    pub key: String,
    pub name: String,
    pub description: String,
    pub required: bool,
    pub kind: InputKind,
    /// The choices, or the members for a user field, as (value sent, label, offered); a
    /// retired choice is listed only where the item holds it.
    pub options: Vec<(String, String, bool)>,
}

impl FieldInput {
    /// The `name` attribute.
    pub fn form_name(&self) -> String {
        format!("{PREFIX}{}", self.key)
    }

    /// The `id` attribute (keys are `[a-z0-9_]`, safe in an id).
    pub fn element_id(&self) -> String {
        format!("field-{}", self.key)
    }

    /// The kind, for the template: line, lines, whole, number, date, yes_no, select, boxes, link.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            InputKind::Line => "line",
            InputKind::Lines => "lines",
            InputKind::Whole => "whole",
            InputKind::Number => "number",
            InputKind::Date => "date",
            InputKind::YesNo => "yes_no",
            InputKind::Select => "select",
            InputKind::Boxes => "boxes",
            InputKind::Link => "link",
        }
    }

    /// Whether the item page shows the value first and opens a form to change it (a long
    /// text, several choices, a URL to follow) rather than one control in its place.
    pub fn opens_to_change(&self) -> bool {
        matches!(self.kind, InputKind::Lines | InputKind::Boxes | InputKind::Link)
    }

    /// The name errors carry (`fields.<key>`).
    pub fn error_name(&self) -> String {
        format!("fields.{}", self.key)
    }
}

fn kind_of(field: &Field) -> InputKind {
    match field.field_type {
        FieldType::Text => InputKind::Line,
        FieldType::LongText => InputKind::Lines,
        FieldType::Integer => InputKind::Whole,
        FieldType::Decimal => InputKind::Number,
        FieldType::Date => InputKind::Date,
        FieldType::Boolean => InputKind::YesNo,
        FieldType::Choice | FieldType::User => InputKind::Select,
        FieldType::MultiChoice => InputKind::Boxes,
        FieldType::Url => InputKind::Link,
    }
}

/// The inputs of the fields that apply to an item of this project and type, in form order.
/// `held` keeps retired choices the form holds on offer; `members` are whom a user field
/// may name.
pub fn inputs(
    catalog: &Catalog,
    project: ProjectId,
    item_type: TypeId,
    held: &FieldTexts,
    members: &[Member],
) -> Vec<FieldInput> {
    catalog
        .applying(project, item_type)
        .map(|field| {
            let options = match field.field_type {
                FieldType::Choice | FieldType::MultiChoice => field
                    .choices
                    .iter()
                    .filter(|choice| !choice.retired || held.holds(&field.key, &choice.value))
                    .map(|choice| (choice.value.clone(), choice.value.clone(), !choice.retired))
                    .collect(),
                FieldType::User => members
                    .iter()
                    .map(|member| {
                        (member.user.id.to_string(), format!("{} ({})", member.user.name, member.user.login), true)
                    })
                    .collect(),
                _ => Vec::new(),
            };
            FieldInput {
                key: field.key.clone(),
                name: field.name.clone(),
                description: field.description.clone(),
                required: field.required,
                kind: kind_of(field),
                options,
            }
        })
        .collect()
}
