//! A snippet as a reader sees the text: descriptions and comments are stored as Markdown, so
//! a fragment of them is read through the Markdown parser and only its words are kept — no
//! `**`, `#`, backticks, list or task markers, link targets — with the matches in `<b>` and
//! everything else escaped. Raw HTML in the text is kept as the words typed (escaped).

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use tantivy::snippet::Snippet;

use crate::model::html::entity;

/// Marks where a match starts and ends while the fragment goes through the parser (private-use
/// characters, removed from the text first).
const OPEN: char = '\u{E000}';
const CLOSE: char = '\u{E001}';

/// The snippet's fragment as plain text, HTML-escaped, with its matches in `<b>…</b>`.
pub fn plain_html(snippet: &Snippet) -> String {
    let fragment = snippet.fragment();
    let mut marked = String::with_capacity(fragment.len() + 16);
    let mut at = 0;
    for range in snippet.highlighted() {
        if range.start < at || range.end > fragment.len() {
            continue;
        }
        push_clean(&mut marked, &fragment[at..range.start]);
        marked.push(OPEN);
        push_clean(&mut marked, &fragment[range.start..range.end]);
        marked.push(CLOSE);
        at = range.end;
    }
    push_clean(&mut marked, &fragment[at..]);
    let text = match block_words(&marked) {
        Some(text) => text,
        None => words(&marked),
    };
    to_html(&text)
}

/// The characters that may start inline Markdown (emphasis, code, links, images, HTML,
/// entities, escapes, strikethrough, tables, task boxes), as a table by byte.
const INLINE: [bool; 256] = {
    let mut table = [false; 256];
    let characters = b"*_`[]<>!&\\~|";
    let mut at = 0;
    while at < characters.len() {
        table[characters[at] as usize] = true;
        at += 1;
    }
    table
};

/// The words of Markdown that has only block markup — headings, quotes, list markers,
/// setext and thematic rules — taken off each line's start, as the parser would; `None` when
/// any inline markup may be there, for the parser to read. Most snippets are such text, and
/// this is a tenth of the parser's cost.
fn block_words(markdown: &str) -> Option<String> {
    if markdown.bytes().any(|byte| INLINE[usize::from(byte)]) {
        return None;
    }
    let mut text = String::with_capacity(markdown.len());
    for line in markdown.lines() {
        let mut rest = line.trim_start();
        if !rest.is_empty() && rest.chars().all(|character| matches!(character, '=' | '-' | ' ')) {
            continue;
        }
        let hashes = rest.bytes().take_while(|byte| *byte == b'#').count();
        if (1..=6).contains(&hashes) && rest[hashes..].starts_with([' ', '\t']) {
            rest = rest[hashes..].trim_end_matches(['#', ' ']);
        }
        if let Some(item) = rest.strip_prefix(['-', '+']).filter(|item| item.starts_with(' ')) {
            rest = item;
        }
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if (1..=9).contains(&digits) && rest[digits..].starts_with(['.', ')']) && rest[digits + 1..].starts_with(' ') {
            rest = &rest[digits + 1..];
        }
        text.push_str(rest.trim());
        text.push(' ');
    }
    Some(text)
}

/// The first byte of `OPEN` and `CLOSE` in UTF-8: text without it holds neither.
const MARK_LEAD: u8 = 0xEE;

fn push_clean(into: &mut String, text: &str) {
    if text.as_bytes().contains(&MARK_LEAD) {
        into.extend(text.chars().filter(|character| *character != OPEN && *character != CLOSE));
    } else {
        into.push_str(text);
    }
}

/// The text of Markdown as read: what its events say in words, blocks apart by a space.
fn words(markdown: &str) -> String {
    let options = Options::ENABLE_TASKLISTS | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES;
    let mut text = String::with_capacity(markdown.len());
    for event in Parser::new_ext(markdown, options) {
        match event {
            Event::Text(words) | Event::Code(words) | Event::Html(words) | Event::InlineHtml(words) => {
                text.push_str(&words)
            }
            Event::SoftBreak | Event::HardBreak | Event::Rule => text.push(' '),
            Event::Start(Tag::Item | Tag::TableCell) | Event::End(TagEnd::Paragraph | TagEnd::Heading(_)) => {
                text.push(' ')
            }
            Event::End(TagEnd::Item | TagEnd::CodeBlock | TagEnd::TableCell) => text.push(' '),
            _ => {}
        }
    }
    text
}

/// Escapes the text, folds its white space, and turns the marks into balanced `<b>` tags (a
/// mark the parser dropped, inside a link's target, leaves its match plain).
fn to_html(text: &str) -> String {
    let mut html = String::with_capacity(text.len() + 16);
    let mut bold = false;
    let mut last_was_space = true;
    for character in text.chars() {
        match character {
            OPEN if !bold => {
                html.push_str("<b>");
                bold = true;
            }
            CLOSE if bold => {
                html.push_str("</b>");
                bold = false;
            }
            OPEN | CLOSE => {}
            space if space.is_whitespace() => {
                if !last_was_space {
                    html.push(' ');
                }
                last_was_space = true;
                continue;
            }
            other => match u8::try_from(other).ok().and_then(entity) {
                Some(entity) => html.push_str(entity),
                None => html.push(other),
            },
        }
        last_was_space = false;
    }
    if bold {
        html.push_str("</b>");
    }
    html.truncate(html.trim_end().len());
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked(text: &str) -> String {
        to_html(&words(&text.replace('{', &OPEN.to_string()).replace('}', &CLOSE.to_string())))
    }

    #[test]
    fn markdown_reads_as_its_words_with_the_matches_bold() {
        assert_eq!(
            marked("## {Refund} fails\n\n- [x] see **{refund}** [log](https://x.example/{refund}) and `code_{refund}`"),
            "<b>Refund</b> fails see <b>refund</b> log and code_<b>refund</b>"
        );
        assert_eq!(marked("The nightly <{backup}> & more"), "The nightly &lt;<b>backup</b>&gt; &amp; more");
        assert_eq!(marked("> quoted {word}\n> again"), "quoted <b>word</b> again");
    }

    #[test]
    fn block_markup_alone_is_read_without_the_parser_as_the_parser_reads_it() {
        for markdown in [
            "## {What} happens\n\nPossibly related.\n\n1. Open the {export}\n2) Open the API\n- one\n+ two",
            "Title\n=====\n\nText\n---\nmore {text} ###",
            "  indented {words}\n\n### closed heading ###",
        ] {
            let text = markdown.replace('{', &OPEN.to_string()).replace('}', &CLOSE.to_string());
            let fast = block_words(&text).expect("block markup only");
            assert_eq!(to_html(&fast), to_html(&words(&text)), "{markdown}");
        }
        assert_eq!(block_words("a **b**"), None);
        assert_eq!(block_words("see [x](y)"), None);
    }

    #[test]
    fn a_mark_lost_in_a_link_target_leaves_no_open_tag() {
        let html = marked("[x](https://{a}.example) then {b}");
        assert_eq!(html.matches("<b>").count(), html.matches("</b>").count(), "{html}");
        assert!(html.ends_with("<b>b</b>"), "{html}");
    }
}
