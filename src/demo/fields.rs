//! The custom fields of demo items: six fields of different types, defined when missing and
//! set on most items (each on about 85 %). Their values come from a random stream of their
//! own, so a seed gives the same items, comments and watchers as it did before fields existed.
//! A field an administrator already defined under one of these keys with another type is
//! left alone and gets no demo values.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, IteratorRandom};

use crate::db::DbConnection;
use crate::db::schema::item_values;
use crate::error::Result;
use crate::model::field::{self, Catalog, ChoiceInput, FieldDraft, FieldType};
use crate::model::ids::{ChoiceId, FieldId, ItemId, ProjectId, StatusId};

/// How often an item holds a value of each field.
const SHARE: f64 = 0.85;

const FIELDS: [(&str, &str, FieldType, &[&str]); 6] = [
    ("customer", "Customer", FieldType::Text, &[]),
    ("severity", "Severity", FieldType::Choice, &["minor", "major", "critical"]),
    ("estimate", "Estimate (hours)", FieldType::Integer, &[]),
    ("found_on", "Found on", FieldType::Date, &[]),
    ("regression", "Regression", FieldType::Boolean, &[]),
    ("platforms", "Platforms", FieldType::MultiChoice, &["linux", "mac", "windows"]),
];

const CUSTOMERS: &[&str] =
    &["ACME", "Initech", "Globex", "Umbrella", "Hooli", "Stark Industries", "Wayne Enterprises", "Tyrell"];

/// A demo field as stored, with the choices it offers.
struct Stored {
    id: FieldId,
    field_type: FieldType,
    choices: Vec<ChoiceId>,
}

/// The demo fields that items get values of.
pub struct DemoFields(Vec<Stored>);

/// One value of one item, before the item has its id.
#[derive(Clone, Insertable)]
#[diesel(table_name = item_values, treat_none_as_default_value = false)]
pub struct Drawn {
    field_id: FieldId,
    text_value: Option<String>,
    int_value: Option<i64>,
    date_value: Option<NaiveDate>,
    bool_value: Option<bool>,
    choice_id: Option<ChoiceId>,
}

/// A value of a stored item, placed in the item's project and status.
#[derive(Insertable)]
#[diesel(table_name = item_values)]
pub struct DemoValue {
    item_id: ItemId,
    project_id: ProjectId,
    status_id: StatusId,
    #[diesel(embed)]
    value: Drawn,
}

impl Drawn {
    pub fn of(&self, item_id: ItemId, project_id: ProjectId, status_id: StatusId) -> DemoValue {
        DemoValue { item_id, project_id, status_id, value: self.clone() }
    }
}

impl DemoFields {
    /// Defines the demo fields that are missing, for every project and type.
    pub fn ensure(connection: &mut DbConnection) -> Result<DemoFields> {
        for (key, name, field_type, choices) in FIELDS {
            if Catalog::load(connection)?.by_key(key).is_none() {
                let draft = FieldDraft {
                    key: key.into(),
                    name: name.into(),
                    field_type: field_type.as_str().into(),
                    choices: choices
                        .iter()
                        .map(|value| ChoiceInput { value: Some((*value).into()), ..ChoiceInput::default() })
                        .collect(),
                    ..FieldDraft::default()
                };
                field::define(connection, draft, "demo-data")?;
            }
        }
        let catalog = Catalog::load(connection)?;
        let stored = FIELDS
            .iter()
            .filter_map(|(key, _, field_type, _)| catalog.by_key(key).filter(|field| field.field_type == *field_type))
            .map(|field| Stored {
                id: field.id,
                field_type: field.field_type,
                choices: field.choices.iter().filter(|choice| !choice.retired).map(|choice| choice.id).collect(),
            })
            .collect();
        Ok(DemoFields(stored))
    }

    /// The values of one item found within `period` (earliest, latest).
    pub fn draw(&self, rng: &mut StdRng, (earliest, latest): (NaiveDateTime, NaiveDateTime)) -> Vec<Drawn> {
        let mut drawn = Vec::new();
        for field in &self.0 {
            if !rng.random_bool(SHARE) {
                continue;
            }
            let blank = || Drawn {
                field_id: field.id,
                text_value: None,
                int_value: None,
                date_value: None,
                bool_value: None,
                choice_id: None,
            };
            match field.field_type {
                FieldType::Choice => drawn.push(Drawn { choice_id: field.choices.choose(rng).copied(), ..blank() }),
                FieldType::MultiChoice => {
                    let count = rng.random_range(1..=field.choices.len().max(1));
                    for choice in field.choices.iter().copied().choose_multiple(rng, count) {
                        drawn.push(Drawn { choice_id: Some(choice), ..blank() });
                    }
                }
                FieldType::Text => {
                    let customer = CUSTOMERS.choose(rng).map(|name| (*name).to_string());
                    drawn.push(Drawn { text_value: customer, ..blank() });
                }
                FieldType::Integer => drawn.push(Drawn { int_value: Some(rng.random_range(1..=40)), ..blank() }),
                FieldType::Date => {
                    let days = (latest - earliest).num_days().max(1);
                    let date = (earliest + chrono::Duration::days(rng.random_range(0..days))).date();
                    drawn.push(Drawn { date_value: Some(date), ..blank() });
                }
                FieldType::Boolean => drawn.push(Drawn { bool_value: Some(rng.random_bool(0.2)), ..blank() }),
                FieldType::LongText | FieldType::Decimal | FieldType::User | FieldType::Url => {}
            }
        }
        drawn
    }
}
