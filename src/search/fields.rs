//! The index schema, resolved once into `Fields`, and its analyzer. Text is split into
//! words, lower-cased and ASCII-folded, and every word is indexed as its English stem and —
//! at the same position, when it differs — its German stem, so "reports" finds "report" and
//! "Berichte" finds "Bericht" while a word both languages stem alike costs one posting list.
//! `text` holds title and body together; `title` and `body` are stored for snippets.

use std::borrow::Cow;

use frostem::Algorithm;
use rustc_hash::FxHashMap;
use tantivy::Index;
use tantivy::schema::{FAST, Field, INDEXED, IndexRecordOption, STORED, Schema, TextFieldIndexing, TextOptions};
use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer, Token, TokenFilter, TokenStream,
    Tokenizer,
};

const ANALYZER: &str = "baton_en_de";

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
    /// Stored only: the title, and the description, comments, attachment names and text.
    pub title: Field,
    pub body: Field,
    /// Indexed only: the title twice (so that title matches rank higher) and the body.
    pub text: Field,
}

impl Fields {
    pub fn schema() -> Schema {
        let indexed = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(ANALYZER)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        );
        let mut builder = Schema::builder();
        builder.add_u64_field("item_id", INDEXED | STORED | FAST);
        for name in ["project_id", "type_id", "status_id", "priority_id", "reporter_id", "assignee_id", "closed"] {
            builder.add_u64_field(name, INDEXED | FAST);
        }
        builder.add_date_field("created", INDEXED | FAST);
        builder.add_date_field("updated", INDEXED | FAST);
        builder.add_text_field("title", STORED);
        builder.add_text_field("body", STORED);
        builder.add_text_field("text", indexed);
        builder.build()
    }

    /// The analyzer of `title` and `text`, also used to turn query words into terms.
    pub fn analyzer() -> TextAnalyzer {
        Fields::analyzer_stemming(StemmedWords::All)
    }

    /// The analyzer as a highlighter of `terms` reads text: a word is stemmed only when it
    /// starts as one of the terms does (both stemmers keep a word's first letter), so the
    /// words that cannot match — most of a snippet's — cost no stemming.
    pub fn highlighter<'a>(terms: impl IntoIterator<Item = &'a str>) -> TextAnalyzer {
        let mut first_bytes = [0u64; 4];
        for term in terms {
            if let Some(first) = term.bytes().next() {
                first_bytes[usize::from(first / 64)] |= 1 << (first % 64);
            }
        }
        Fields::analyzer_stemming(StemmedWords::Starting(first_bytes))
    }

    fn analyzer_stemming(words: StemmedWords) -> TextAnalyzer {
        TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(60))
            .filter(LowerCaser)
            .filter(AsciiFoldingFilter)
            .filter(EnglishGermanStems { words })
            .build()
    }

    /// Resolves the fields of an index and registers its analyzer (needed on every handle).
    pub fn of(index: &Index) -> tantivy::Result<Fields> {
        index.tokenizers().register(ANALYZER, Fields::analyzer());
        let schema = index.schema();
        if schema != Fields::schema() {
            return Err(tantivy::TantivyError::SchemaError(
                "the index was built by another version of Baton and must be rebuilt".into(),
            ));
        }
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
            text: field("text")?,
        })
    }
}

/// Which words are stemmed: all, or (for a highlighter) those whose first byte is in the set
/// (a bit per byte value).
#[derive(Clone, Copy)]
enum StemmedWords {
    All,
    Starting([u64; 4]),
}

impl StemmedWords {
    fn includes(&self, word: &str) -> bool {
        match self {
            StemmedWords::All => true,
            StemmedWords::Starting(first_bytes) => {
                word.bytes().next().is_some_and(|first| first_bytes[usize::from(first / 64)] & (1 << (first % 64)) != 0)
            }
        }
    }
}

/// Replaces each token by its English stem and adds its German stem at the same position
/// when that differs; a word left out by `words` stays as it is.
#[derive(Clone, Copy)]
struct EnglishGermanStems {
    words: StemmedWords,
}

impl TokenFilter for EnglishGermanStems {
    type Tokenizer<T: Tokenizer> = StemsFilter<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> StemsFilter<T> {
        StemsFilter { inner: tokenizer, words: self.words }
    }
}

#[derive(Clone)]
struct StemsFilter<T> {
    inner: T,
    words: StemmedWords,
}

impl<T: Tokenizer> Tokenizer for StemsFilter<T> {
    type TokenStream<'a> = StemsStream<T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        StemsStream {
            tail: self.inner.token_stream(text),
            words: self.words,
            english: frostem::Stemmer::new(Algorithm::English),
            german: frostem::Stemmer::new(Algorithm::German),
            token: Token::default(),
            german_next: String::new(),
            german_pending: false,
        }
    }
}

struct StemsStream<T> {
    tail: T,
    words: StemmedWords,
    english: frostem::Stemmer,
    german: frostem::Stemmer,
    token: Token,
    /// The German stem of the current word, when it differs and is still to be given.
    german_next: String,
    german_pending: bool,
}

/// Words stemmed per thread; text repeats its words, and stemming them is most of the cost
/// of indexing and of highlighting snippets.
const STEM_CACHE_WORDS: usize = 50_000;

thread_local! {
    static STEMS: std::cell::RefCell<FxHashMap<String, (String, Option<String>)>> =
        std::cell::RefCell::new(FxHashMap::default());
}

impl<T: TokenStream> TokenStream for StemsStream<T> {
    /// The English stem of each word and, when it differs, the German one at the same
    /// position; copied into the stream's own buffers, so a word in the cache costs no
    /// allocation.
    fn advance(&mut self) -> bool {
        if self.german_pending {
            self.german_pending = false;
            std::mem::swap(&mut self.token.text, &mut self.german_next);
            return true;
        }
        if !self.tail.advance() {
            return false;
        }
        let word = self.tail.token();
        self.token.offset_from = word.offset_from;
        self.token.offset_to = word.offset_to;
        self.token.position = word.position;
        self.token.position_length = word.position_length;
        if !self.words.includes(&word.text) {
            self.token.text.clear();
            self.token.text.push_str(&word.text);
            return true;
        }
        let (english, german) = (&self.english, &self.german);
        let (text, german_next) = (&mut self.token.text, &mut self.german_next);
        self.german_pending = STEMS.with_borrow_mut(|cache| {
            // One probe for a word seen before; a second only to store a new one.
            let (english_stem, german_stem) = match cache.get(word.text.as_str()) {
                Some(stems) => stems,
                None => {
                    if cache.len() >= STEM_CACHE_WORDS {
                        cache.clear();
                    }
                    let english_stem = english.stem(&word.text).into_owned();
                    let german_stem = Some(german.stem(&word.text))
                        .filter(|german| german.as_ref() != english_stem)
                        .map(Cow::into_owned);
                    cache.entry(word.text.clone()).or_insert((english_stem, german_stem))
                }
            };
            text.clear();
            text.push_str(english_stem);
            german_next.clear();
            german_next.push_str(german_stem.as_deref().unwrap_or_default());
            german_stem.is_some()
        });
        true
    }

    fn token(&self) -> &Token {
        &self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.token
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(text: &str) -> Vec<(usize, String)> {
        let mut analyzer = Fields::analyzer();
        let mut stream = analyzer.token_stream(text);
        let mut found = Vec::new();
        while stream.advance() {
            found.push((stream.token().position, stream.token().text.clone()));
        }
        found
    }

    fn tokens_of(mut analyzer: TextAnalyzer, text: &str) -> Vec<(usize, String)> {
        let mut stream = analyzer.token_stream(text);
        let mut found = Vec::new();
        while stream.advance() {
            found.push((stream.token().position, stream.token().text.clone()));
        }
        found
    }

    const WORDS: &str = "dying lying tying skies Yelling yes ugly early only news gently idly happily \
        reports hoping Äpfel Bücher Straße Berichte Häuser laufen zusammenarbeiten Ödland über \
        Œuvre naïve E1043 2024 x";

    #[test]
    fn both_stemmers_keep_a_words_first_letter() {
        // What lets a highlighter leave the words alone that start unlike every term.
        let folded = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(60))
            .filter(LowerCaser)
            .filter(AsciiFoldingFilter)
            .build();
        let words = tokens_of(folded, WORDS);
        for (position, stem) in tokens(WORDS) {
            let word = &words.iter().find(|(at, _)| *at == position).unwrap().1;
            assert_eq!(stem.as_bytes()[0], word.as_bytes()[0], "{word} -> {stem}");
        }
    }

    #[test]
    fn a_highlighter_stems_the_words_that_may_match_as_the_analyzer_does() {
        let stems = tokens(WORDS);
        let terms = ["die", "sky", "bericht", "e1043"];
        let highlighted = tokens_of(Fields::highlighter(terms), WORDS);
        let starts = |text: &str| terms.iter().any(|term| term.as_bytes()[0] == text.as_bytes()[0]);
        let kept: Vec<_> = stems.iter().filter(|(_, stem)| starts(stem)).collect();
        let also: Vec<_> = highlighted.iter().filter(|(_, token)| starts(token)).collect();
        assert_eq!(kept, also);
        for term in terms {
            assert!(highlighted.iter().any(|(_, token)| token == term), "{term}: {highlighted:?}");
        }
    }

    #[test]
    fn words_are_indexed_as_english_and_german_stems() {
        assert_eq!(tokens("Reports"), vec![(0, "report".to_string())]);
        let german = tokens("die Berichte");
        assert!(german.contains(&(1, "bericht".to_string())), "{german:?}");
        assert!(german.iter().all(|(position, _)| *position <= 1));
        assert_eq!(tokens("Café")[0], (0, "cafe".to_string()));
        assert_eq!(tokens("login"), vec![(0, "login".to_string())]);
    }
}
