//! Markdown from users (descriptions, comments) to HTML that is safe to embed: rendered by
//! pulldown-cmark, then cleaned by ammonia's allow-list (no script, no event handlers, no
//! `javascript:` links, no form controls; links get `rel="noopener noreferrer nofollow"`).
//!
//! Two things are added to CommonMark, as users know them from GitHub: plain `http(s)://`
//! URLs become links, and task lists (`- [ ]`, `- [x]`) keep their boxes. A box is put in
//! after cleaning, where a marker with a random nonce stood (a user cannot write the marker,
//! so every box in the output is one of ours): a disabled checkbox for readers, or a submit
//! button naming the box for those who may edit the text (`TaskBoxes::Buttons`; the page wraps
//! the description in the one form those buttons post). `set_task` ticks a box in the source.

use std::sync::LazyLock;

use pulldown_cmark::{CowStr, Event, LinkType, Options, Parser, Tag, TagEnd, TextMergeStream, html};

/// The sanitizer, built once: its allow-lists are a few hundred set entries.
static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut builder = ammonia::Builder::default();
    builder.link_rel(Some("noopener noreferrer nofollow"));
    builder
});

fn options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS
}

/// How the boxes of a task list are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskBoxes {
    /// Checkboxes that show the state and cannot be changed.
    Disabled,
    /// `<button name="tick"|"untick" value="N">` for the page's task form.
    Buttons,
}

/// Markdown as safe HTML, task boxes disabled.
pub fn to_safe_html(markdown: &str) -> String {
    render(markdown, TaskBoxes::Disabled)
}

pub fn render(markdown: &str, boxes: TaskBoxes) -> String {
    let mut marker = None;
    let mut tasks = Vec::new();
    let mut events = Vec::new();
    let mut link_depth = 0usize;
    let mut in_code_block = false;
    for event in TextMergeStream::new(Parser::new_ext(markdown, options())) {
        match event {
            Event::Start(Tag::Link { .. } | Tag::Image { .. }) => {
                link_depth += 1;
                events.push(event);
            }
            Event::End(TagEnd::Link | TagEnd::Image) => {
                link_depth = link_depth.saturating_sub(1);
                events.push(event);
            }
            Event::InlineHtml(ref raw) => {
                // A link the user wrote as HTML: its text must not get a link of its own.
                let lower = raw.to_ascii_lowercase();
                if lower.starts_with("<a ") || lower == "<a>" {
                    link_depth += 1;
                } else if lower.starts_with("</a") {
                    link_depth = link_depth.saturating_sub(1);
                }
                events.push(event);
            }
            Event::Start(Tag::CodeBlock(_)) => {
                in_code_block = true;
                events.push(event);
            }
            Event::End(TagEnd::CodeBlock) => {
                in_code_block = false;
                events.push(event);
            }
            Event::Text(text) if link_depth == 0 && !in_code_block => push_autolinked(text, &mut events),
            Event::TaskListMarker(done) => {
                let nonce = *marker.get_or_insert_with(rand::random::<u64>);
                events.push(Event::Text(task_marker(nonce, tasks.len()).into()));
                tasks.push(done);
            }
            other => events.push(other),
        }
    }
    let mut rendered = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut rendered, events.into_iter());
    let mut cleaned = SANITIZER.clean(&rendered).to_string();
    if let Some(nonce) = marker {
        for (index, done) in tasks.into_iter().enumerate() {
            cleaned = cleaned.replacen(&task_marker(nonce, index), &task_box(boxes, index, done), 1);
        }
    }
    cleaned
}

fn task_marker(nonce: u64, index: usize) -> String {
    format!("baton-task-{nonce:016x}-{index}-")
}

fn task_box(boxes: TaskBoxes, index: usize, done: bool) -> String {
    let number = index + 1;
    match (boxes, done) {
        (TaskBoxes::Disabled, true) => r#"<input type="checkbox" class="task" disabled checked> "#.to_string(),
        (TaskBoxes::Disabled, false) => r#"<input type="checkbox" class="task" disabled> "#.to_string(),
        (TaskBoxes::Buttons, true) => format!(
            r#"<button type="submit" class="task" name="untick" value="{index}" role="checkbox" aria-checked="true" aria-label="Task {number}, done: untick it" id="task-{index}"></button> "#
        ),
        (TaskBoxes::Buttons, false) => format!(
            r#"<button type="submit" class="task" name="tick" value="{index}" role="checkbox" aria-checked="false" aria-label="Task {number}, open: tick it" id="task-{index}"></button> "#
        ),
    }
}

/// The schemes a plain URL may have to become a link.
const URL_STARTS: [&str; 2] = ["https://", "http://"];

/// Characters that end a sentence rather than a URL when they come last (as GitHub does).
const TRAILING_PUNCTUATION: &[char] = &['.', ',', ':', ';', '!', '?', '*', '_', '~', '\'', '"'];

/// Text with its plain `http(s)://` URLs turned into links.
fn push_autolinked<'a>(text: CowStr<'a>, events: &mut Vec<Event<'a>>) {
    let mut rest: &str = &text;
    let mut pieces: Vec<Event<'a>> = Vec::new();
    while let Some((start, end)) = next_url(rest) {
        if start > 0 {
            pieces.push(Event::Text(rest[..start].to_string().into()));
        }
        let url = rest[start..end].to_string();
        pieces.push(Event::Start(Tag::Link {
            link_type: LinkType::Autolink,
            dest_url: url.clone().into(),
            title: CowStr::Borrowed(""),
            id: CowStr::Borrowed(""),
        }));
        pieces.push(Event::Text(url.into()));
        pieces.push(Event::End(TagEnd::Link));
        rest = &rest[end..];
    }
    if pieces.is_empty() {
        events.push(Event::Text(text));
        return;
    }
    if !rest.is_empty() {
        pieces.push(Event::Text(rest.to_string().into()));
    }
    events.extend(pieces);
}

/// The byte range of the first URL in `text`: a scheme at the start of a word, a host, and
/// everything up to white space or `<`, less trailing punctuation and unbalanced `)`.
fn next_url(text: &str) -> Option<(usize, usize)> {
    let lower = text.to_ascii_lowercase();
    let mut from = 0;
    loop {
        let (start, scheme) = URL_STARTS
            .iter()
            .filter_map(|scheme| lower[from..].find(scheme).map(|at| (from + at, scheme.len())))
            .min_by_key(|(at, _)| *at)?;
        let at_word_start = text[..start].chars().next_back().is_none_or(|c| !c.is_alphanumeric());
        let body_end = text[start..]
            .find(|c: char| c.is_whitespace() || c == '<' || c.is_control())
            .map_or(text.len(), |n| start + n);
        let mut end = body_end;
        loop {
            let candidate = &text[start..end];
            if let Some(stripped) = candidate.strip_suffix(TRAILING_PUNCTUATION) {
                end = start + stripped.len();
            } else if candidate.ends_with(')') && candidate.matches(')').count() > candidate.matches('(').count() {
                end -= 1;
            } else {
                break;
            }
        }
        let host = &text[start + scheme..end];
        if at_word_start && host.starts_with(|c: char| c.is_alphanumeric()) {
            return Some((start, end));
        }
        from = start + scheme;
    }
}

/// The Markdown with its task box number `index` (counted from 0 in document order, as the
/// page numbers its buttons) ticked or unticked; None when there is no such box.
pub fn set_task(markdown: &str, index: usize, done: bool) -> Option<String> {
    let range = Parser::new_ext(markdown, options())
        .into_offset_iter()
        .filter(|(event, _)| matches!(event, Event::TaskListMarker(_)))
        .nth(index)?
        .1;
    let mark = if done { "[x]" } else { "[ ]" };
    Some(format!("{}{mark}{}", &markdown[..range.start], &markdown[range.end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_is_rendered() {
        assert_eq!(to_safe_html("**bold** and `code`").trim(), "<p><strong>bold</strong> and <code>code</code></p>");
    }

    #[test]
    fn scripts_handlers_script_links_and_form_controls_are_removed() {
        let html = to_safe_html(
            "<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n[click](javascript:alert(3)) <a href=\"https://example.com\">ok</a>\n\n<input type=checkbox checked> <button>x</button> <form action=/x>",
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("onerror"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(!html.contains("<input") && !html.contains("<button") && !html.contains("<form"), "{html}");
        assert!(html.contains("rel=\"noopener noreferrer nofollow\""), "{html}");
    }

    #[test]
    fn task_lists_keep_their_boxes() {
        let html = to_safe_html("- [ ] write\n- [x] test\n- plain");
        assert!(html.contains(r#"<li><input type="checkbox" class="task" disabled> write</li>"#), "{html}");
        assert!(html.contains(r#"<li><input type="checkbox" class="task" disabled checked> test</li>"#), "{html}");
        assert!(html.contains("<li>plain</li>"), "{html}");
        let buttons = render("- [ ] write\n- [x] test", TaskBoxes::Buttons);
        assert!(
            buttons.contains(r#"name="tick" value="0""#) && buttons.contains(r#"aria-checked="false""#),
            "{buttons}"
        );
        assert!(
            buttons.contains(r#"name="untick" value="1""#) && buttons.contains(r#"aria-checked="true""#),
            "{buttons}"
        );
    }

    #[test]
    fn a_written_marker_is_only_text() {
        let html = to_safe_html("- [ ] real\n\nbaton-task-0000000000000000-0- and <img alt=\"baton-task-1-0-\" src=x>");
        assert_eq!(html.matches("<input").count(), 1, "{html}");
    }

    #[test]
    fn plain_urls_become_links() {
        let html = to_safe_html("See https://example.com/a_b?x=1&y=(2). Or http://host:8080/path, then stop.");
        assert!(
            html.contains(r#"<a href="https://example.com/a_b?x=1&amp;y=(2)" rel="noopener noreferrer nofollow">https://example.com/a_b?x=1&amp;y=(2)</a>. Or"#),
            "{html}"
        );
        assert!(html.contains(r#"<a href="http://host:8080/path" rel="noopener noreferrer nofollow">"#), "{html}");
        assert!(html.contains("</a>, then stop."), "{html}");
        let wrapped = to_safe_html("(see https://example.com/x)");
        assert!(wrapped.contains(">https://example.com/x</a>)"), "{wrapped}");
    }

    #[test]
    fn urls_in_code_links_and_other_schemes_stay_as_written() {
        let html = to_safe_html(
            "`https://code.example` and\n\n```\nhttps://block.example\n```\n\n[named](https://named.example) <a href=\"https://raw.example\">https://raw.example</a> ftp://files.example xhttps://no.example javascript://x https:// alone",
        );
        assert_eq!(html.matches("<a ").count(), 2, "{html}");
        assert!(!html.contains("href=\"ftp") && !html.contains("href=\"javascript"), "{html}");
    }

    #[test]
    fn a_task_is_ticked_and_unticked_in_the_source() {
        let source = "Plan:\n\n- [ ] one\n- [X] two\n  - [ ] nested\n\n> - [ ] quoted";
        assert_eq!(
            set_task(source, 0, true).unwrap(),
            "Plan:\n\n- [x] one\n- [X] two\n  - [ ] nested\n\n> - [ ] quoted"
        );
        assert_eq!(
            set_task(source, 1, false).unwrap(),
            "Plan:\n\n- [ ] one\n- [ ] two\n  - [ ] nested\n\n> - [ ] quoted"
        );
        assert_eq!(
            set_task(source, 3, true).unwrap(),
            "Plan:\n\n- [ ] one\n- [X] two\n  - [ ] nested\n\n> - [x] quoted"
        );
        assert_eq!(set_task(source, 4, true), None);
        assert_eq!(set_task("no [ ] tasks here", 0, true), None);
    }
}
