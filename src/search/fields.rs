//! The index schema, resolved once into `Fields`, and the analyzers: a plain one (lower
//! case, ASCII folding) whose fields are stored for snippets, and English and German stemmed
//! variants of the same text so "reports" finds "report" and "Berichte" finds "Bericht".

use tantivy::Index;
use tantivy::schema::{FAST, Field, INDEXED, IndexRecordOption, STORED, Schema, TextFieldIndexing, TextOptions};
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, TextAnalyzer,
};

const PLAIN: &str = "baton_plain";
const ENGLISH: &str = "baton_en";
const GERMAN: &str = "baton_de";

#[derive(Debug, Clone, Copy)]
pub struct Fields {
    pub item_id: Field,
    pub project_id: Field,
    pub type_id: Field,
    pub status_id: Field,
    pub priority_id: Field,
    pub reporter_id: Field,
    /// 0 when unassigned.
    pub assignee_id: Field,
    /// 1 when the status is closed.
    pub closed: Field,
    pub created: Field,
    pub updated: Field,
    pub title: Field,
    pub body: Field,
    pub title_en: Field,
    pub body_en: Field,
    pub title_de: Field,
    pub body_de: Field,
}

fn text(tokenizer: &str, stored: bool) -> TextOptions {
    let options = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(tokenizer)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    if stored { options.set_stored() } else { options }
}

impl Fields {
    pub fn schema() -> Schema {
        let mut builder = Schema::builder();
        builder.add_u64_field("item_id", INDEXED | STORED | FAST);
        for name in ["project_id", "type_id", "status_id", "priority_id", "reporter_id", "assignee_id", "closed"] {
            builder.add_u64_field(name, INDEXED | FAST);
        }
        builder.add_date_field("created", INDEXED | FAST);
        builder.add_date_field("updated", INDEXED | FAST);
        builder.add_text_field("title", text(PLAIN, true));
        builder.add_text_field("body", text(PLAIN, true));
        builder.add_text_field("title_en", text(ENGLISH, false));
        builder.add_text_field("body_en", text(ENGLISH, false));
        builder.add_text_field("title_de", text(GERMAN, false));
        builder.add_text_field("body_de", text(GERMAN, false));
        builder.build()
    }

    /// Resolves the fields of an index and registers its analyzers (needed on every handle).
    pub fn of(index: &Index) -> tantivy::Result<Fields> {
        let analyzer = |language: Option<Language>| {
            let builder = TextAnalyzer::builder(SimpleTokenizer::default())
                .filter(RemoveLongFilter::limit(60))
                .filter(LowerCaser)
                .filter(AsciiFoldingFilter);
            match language {
                Some(language) => builder.filter(Stemmer::new(language)).build(),
                None => builder.build(),
            }
        };
        index.tokenizers().register(PLAIN, analyzer(None));
        index.tokenizers().register(ENGLISH, analyzer(Some(Language::English)));
        index.tokenizers().register(GERMAN, analyzer(Some(Language::German)));
        let schema = index.schema();
        let field = |name: &str| schema.get_field(name);
        Ok(Fields {
            item_id: field("item_id")?,
            project_id: field("project_id")?,
            type_id: field("type_id")?,
            status_id: field("status_id")?,
            priority_id: field("priority_id")?,
            reporter_id: field("reporter_id")?,
            assignee_id: field("assignee_id")?,
            closed: field("closed")?,
            created: field("created")?,
            updated: field("updated")?,
            title: field("title")?,
            body: field("body")?,
            title_en: field("title_en")?,
            body_en: field("body_en")?,
            title_de: field("title_de")?,
            body_de: field("body_de")?,
        })
    }

    /// The fields free text is searched in, title first.
    pub fn text_fields(&self) -> Vec<Field> {
        vec![self.title, self.body, self.title_en, self.body_en, self.title_de, self.body_de]
    }
}
