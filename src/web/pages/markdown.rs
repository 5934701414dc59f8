//! Markdown from users (descriptions, comments) to HTML that is safe to embed: rendered by
//! pulldown-cmark, then cleaned by ammonia's allow-list (no script, no event handlers, no
//! `javascript:` links, no form controls; links get `rel="noopener noreferrer nofollow"`).
//!
//! Three things are added to CommonMark, as users know them from GitHub: plain `http(s)://`
//! URLs become links, references (`#123`, `OPS-42`, `@login`) become links for a viewer who
//! may read what they name (`model::reference`), and task lists (`- [ ]`, `- [x]`) keep their
//! boxes. Boxes and reference links are put in after cleaning, where a marker with a random
//! nonce stood (a user cannot write the marker, so every box and reference link in the output
//! is one of ours): for a box, a disabled checkbox for readers, or a submit button naming the
//! box for those who may edit the text (`TaskBoxes::Buttons`; the page wraps the description
//! in the one form those buttons post). `set_task` ticks a box in the source.
//!
//! Every reference gets a marker, whether its viewer may follow it or not; the marker becomes
//! the link or the text as written only when the text is shown. So what comes before — the
//! parse, the HTML and its cleaning, the costly part — is the same for every viewer, and each
//! node keeps it for the texts it showed last (`Prepared`): a page of fifty comments renders
//! them without parsing or cleaning any of them again. A text with an attachment image is
//! prepared each time, since the viewer decides whether the image is there.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, LazyLock, Mutex};

use pulldown_cmark::{CowStr, Event, LinkType, Options, Parser, Tag, TagEnd, TextMergeStream, html};

use crate::db::DbConnection;
use crate::model::html::escape;
use crate::model::ids::{ItemId, ProjectId};
use crate::model::reference::{self, PlainText, Targets, Token};
use crate::model::user::User;
use crate::model::{attachment, comment, permission};

/// The sanitizer, built once: its allow-lists are a few hundred set entries.
static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut builder = ammonia::Builder::default();
    builder.link_rel(Some("noopener noreferrer nofollow"));
    builder
});

fn options() -> Options {
    reference::markdown_options()
}

/// How the boxes of a task list are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskBoxes {
    /// Checkboxes that show the state and cannot be changed.
    Disabled,
    /// `<button name="tick"|"untick" value="N">` for the page's task form.
    Buttons,
}

/// Markdown as safe HTML, task boxes disabled, references as written.
#[cfg(test)]
pub fn to_safe_html(markdown: &str) -> String {
    render(markdown, TaskBoxes::Disabled, &Targets::default())
}

/// What is put in after cleaning where a marker stands: task boxes and references, each
/// behind a marker with a nonce that a user cannot write.
#[derive(Default)]
struct Inserts {
    nonce: Option<u64>,
    tasks: Vec<bool>,
    /// What each reference names, and its text as written (escaped).
    references: Vec<(Token, String)>,
}

/// A text rendered as far as it is the same for every viewer: cleaned HTML with its markers,
/// and what they stand for.
struct Prepared {
    cleaned: String,
    inserts: Inserts,
}

impl Prepared {
    fn of(markdown: &str, targets: &Targets) -> Prepared {
        let mut inserts = Inserts::default();
        let mut events = Vec::new();
        let mut plain = PlainText::default();
        // How each open image ends: as itself, as the link an attachment image became, or not
        // at all (an attachment the viewer cannot see: its alt text stays).
        let mut images: Vec<Option<TagEnd>> = Vec::new();
        for event in TextMergeStream::new(Parser::new_ext(markdown, options())) {
            let is_plain = plain.is_plain(&event);
            match event {
                Event::Text(text) if is_plain => push_autolinked(text, &mut events, &mut inserts),
                Event::TaskListMarker(done) => events.push(Event::Text(inserts.task(done).into())),
                Event::Start(Tag::Image { link_type, dest_url, title, id }) => {
                    let (start, end) = match dest_url.strip_prefix(ATTACHMENT_SCHEME) {
                        Some(name) => attachment_image(name, title, targets),
                        None => (Some(Tag::Image { link_type, dest_url, title, id }), Some(TagEnd::Image)),
                    };
                    events.extend(start.map(Event::Start));
                    images.push(end);
                }
                Event::End(TagEnd::Image) => events.extend(images.pop().flatten().map(Event::End)),
                other => events.push(other),
            }
        }
        let mut rendered = String::with_capacity(markdown.len() * 3 / 2);
        html::push_html(&mut rendered, events.into_iter());
        Prepared { cleaned: SANITIZER.clean(&rendered).to_string(), inserts }
    }

    /// Bytes it holds, for the cache's bound.
    fn size(&self) -> usize {
        self.cleaned.len()
            + self.inserts.tasks.len()
            + self.inserts.references.iter().map(|(_, written)| written.len() + 32).sum::<usize>()
    }
}

/// The prepared texts a node keeps, by their Markdown, up to `CACHE_BYTES` (then it starts
/// afresh: simpler than tracking use, and a page refills it at once).
#[derive(Default)]
struct Cache {
    texts: HashMap<String, Arc<Prepared>>,
    bytes: usize,
}

const CACHE_BYTES: usize = 8 << 20;

static CACHE: LazyLock<Mutex<Cache>> = LazyLock::new(Mutex::default);

/// The text prepared (see the module documentation): kept, unless an attachment image makes
/// it depend on its viewer (`targets`).
fn prepared(markdown: &str, targets: &Targets) -> Arc<Prepared> {
    if markdown.contains(ATTACHMENT_SCHEME) {
        return Arc::new(Prepared::of(markdown, targets));
    }
    let cache = || CACHE.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(kept) = cache().texts.get(markdown) {
        return kept.clone();
    }
    let fresh = Arc::new(Prepared::of(markdown, targets));
    let size = markdown.len() + fresh.size();
    if size <= CACHE_BYTES / 16 {
        let mut cache = cache();
        if cache.bytes + size > CACHE_BYTES {
            *cache = Cache::default();
        }
        cache.bytes += size;
        cache.texts.insert(markdown.to_string(), fresh.clone());
    }
    fresh
}

/// The references in Markdown texts, each once (as `reference::in_markdown` finds them), from
/// the prepared texts.
fn references<'a>(texts: impl IntoIterator<Item = &'a str>) -> BTreeSet<Token> {
    let none = Targets::default();
    let mut found = BTreeSet::new();
    for markdown in texts {
        found.extend(prepared(markdown, &none).inserts.references.iter().map(|(token, _)| token.clone()));
    }
    found
}

impl Inserts {
    fn nonce(&mut self) -> u64 {
        *self.nonce.get_or_insert_with(rand::random::<u64>)
    }

    fn task(&mut self, done: bool) -> String {
        let marker = marker(self.nonce(), TASK, self.tasks.len());
        self.tasks.push(done);
        marker
    }

    fn reference(&mut self, token: Token, written: String) -> String {
        let marker = marker(self.nonce(), REFERENCE, self.references.len());
        self.references.push((token, written));
        marker
    }

    /// The cleaned HTML with every marker replaced by what it stands for, in one pass: a
    /// reference by its link if `targets` has what it names, else by the text as written.
    fn put_into(&self, cleaned: &str, boxes: TaskBoxes, targets: &Targets) -> String {
        let Some(nonce) = self.nonce else { return cleaned.to_string() };
        let prefix = format!("baton-{nonce:016x}-");
        let mut out = String::with_capacity(cleaned.len() + self.references.len() * 96);
        let mut rest = cleaned;
        while let Some(at) = rest.find(&prefix) {
            out.push_str(&rest[..at]);
            let after = &rest[at + prefix.len()..];
            let kind = after.as_bytes().first().copied();
            let digits = after.get(1..).map_or(0, |tail| tail.bytes().take_while(u8::is_ascii_digit).count());
            let index: Option<usize> = after.get(1..1 + digits).and_then(|number| number.parse().ok());
            let inserted = match (kind, index, after.as_bytes().get(1 + digits)) {
                (Some(TASK), Some(index), Some(b'-')) => {
                    self.tasks.get(index).map(|done| task_box(boxes, index, *done))
                }
                (Some(REFERENCE), Some(index), Some(b'-')) => self
                    .references
                    .get(index)
                    .map(|(token, written)| link(token, written, targets).unwrap_or_else(|| written.clone())),
                _ => None,
            };
            match inserted {
                Some(html) => {
                    out.push_str(&html);
                    rest = &after[2 + digits..];
                }
                None => {
                    out.push_str(&prefix);
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }
}

const TASK: u8 = b't';
const REFERENCE: u8 = b'r';

/// Where a task box (`TASK`) or a reference's link (`REFERENCE`) number `index` goes.
fn marker(nonce: u64, kind: u8, index: usize) -> String {
    format!("baton-{nonce:016x}-{}{index}-", char::from(kind))
}

/// Where a text not saved yet is to be saved, for its preview: an item (its project decides
/// whom a mention names, its attachments what `attachment:` shows), a project, or nowhere
/// (mentions stay text).
#[derive(Debug, Clone, Copy)]
pub enum Place {
    Item(ItemId),
    Project(ProjectId),
    Nowhere,
}

/// What `viewer` may follow of the references in `texts`, texts of project `place` (`None`:
/// mentions stay text).
pub fn targets<'a>(
    connection: &mut DbConnection,
    viewer: &User,
    place: Option<ProjectId>,
    texts: impl IntoIterator<Item = &'a str>,
) -> crate::error::Result<Targets> {
    reference::resolve(connection, viewer, place, &references(texts))
}

/// A text not saved yet as `viewer` will see it saved there, for a preview.
pub fn preview(
    connection: &mut DbConnection,
    viewer: &User,
    place: Place,
    markdown: &str,
) -> crate::error::Result<String> {
    let targets = match place {
        Place::Item(id) => {
            let (readable, access) = permission::item_access(connection, viewer, id)?;
            let attachments = attachment::of_item(connection, readable, comment::may_read_private(&access))?;
            targets(connection, viewer, Some(readable.project_id()), [markdown])?.with_attachments(&attachments)
        }
        Place::Project(project) => targets(connection, viewer, Some(project), [markdown])?,
        Place::Nowhere => targets(connection, viewer, None, [markdown])?,
    };
    Ok(render(markdown, TaskBoxes::Disabled, &targets))
}

/// Markdown as safe HTML: task boxes as `boxes` says, and the references its viewer may
/// follow (`targets`, see `model::reference`) as links.
pub fn render(markdown: &str, boxes: TaskBoxes, targets: &Targets) -> String {
    let prepared = prepared(markdown, targets);
    prepared.inserts.put_into(&prepared.cleaned, boxes, targets)
}

/// How Markdown names an attachment of the text's item: `![screen](attachment:screen.png)`.
const ATTACHMENT_SCHEME: &str = "attachment:";

/// The start and end of an attachment image: the image from the attachment's own address if
/// it is one to show inline, else a link to download it, or nothing for a name the viewer
/// has no attachment of.
fn attachment_image<'a>(name: &str, title: CowStr<'a>, targets: &Targets) -> (Option<Tag<'a>>, Option<TagEnd>) {
    let name = percent_decoded(name);
    match targets.attachment(&name) {
        Some(found) if found.inline => (
            Some(Tag::Image {
                link_type: LinkType::Inline,
                dest_url: format!("/api/v1/attachments/{}/image", found.id).into(),
                title,
                id: CowStr::Borrowed(""),
            }),
            Some(TagEnd::Image),
        ),
        Some(found) => (
            Some(Tag::Link {
                link_type: LinkType::Inline,
                dest_url: format!("/api/v1/attachments/{}", found.id).into(),
                title,
                id: CowStr::Borrowed(""),
            }),
            Some(TagEnd::Link),
        ),
        None => (None, None),
    }
}

/// `screen%20shot.png` as the file name it stands for (Markdown destinations cannot hold a
/// space); anything that does not decode to UTF-8 stays as written.
fn percent_decoded(text: &str) -> String {
    percent_encoding::percent_decode_str(text).decode_utf8().map_or_else(|_| text.to_string(), |name| name.into_owned())
}

/// Text with its references as markers.
fn push_references<'a>(text: &str, events: &mut Vec<Event<'a>>, inserts: &mut Inserts) {
    let mut shown = 0;
    let mut pieces = String::new();
    for (range, token) in reference::in_text(text) {
        pieces.push_str(&text[shown..range.start]);
        pieces.push_str(&inserts.reference(token, escape(&text[range.clone()])));
        shown = range.end;
    }
    if shown == 0 {
        events.push(Event::Text(text.to_string().into()));
    } else {
        pieces.push_str(&text[shown..]);
        events.push(Event::Text(pieces.into()));
    }
}

/// The link of a reference its viewer may follow (`targets`), showing the text as written.
fn link(token: &Token, written: &str, targets: &Targets) -> Option<String> {
    match token {
        Token::Item(item) => targets.item(item).map(|target| {
            format!(
                r#"<a href="/items/{}" class="ref{}" title="{}: {}">{written}</a>"#,
                target.id,
                if target.closed { " closed" } else { "" },
                escape(&target.key),
                escape(&target.title)
            )
        }),
        Token::Person(login) => targets.person(login).map(|person| {
            format!(
                r#"<a href="/items?assignee={}&amp;state=all" class="mention" title="{}">{written}</a>"#,
                person.id,
                escape(&person.name)
            )
        }),
    }
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

/// Text with its plain `http(s)://` URLs turned into links, and its references into markers.
fn push_autolinked<'a>(text: CowStr<'a>, events: &mut Vec<Event<'a>>, inserts: &mut Inserts) {
    let mut rest: &str = &text;
    let mut pieces: Vec<Event<'a>> = Vec::new();
    while let Some((start, end)) = next_url(rest) {
        if start > 0 {
            push_references(&rest[..start], &mut pieces, inserts);
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
    if !rest.is_empty() {
        push_references(rest, &mut pieces, inserts);
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
        let buttons = render("- [ ] write\n- [x] test", TaskBoxes::Buttons, &Targets::default());
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
        let html = to_safe_html("- [ ] real\n\nbaton-0000000000000000-t0- and <img alt=\"baton-1-t0-\" src=x>");
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
    fn references_the_viewer_may_follow_become_links_and_the_others_stay_text() {
        use crate::model::ids::{ItemId, UserId};
        use crate::model::item::key::ItemReference;
        use crate::model::reference::{ItemTarget, PersonTarget};
        let item = |id: i64, key: &str, title: &str, closed: bool| ItemTarget {
            id: ItemId(id),
            key: key.to_string(),
            title: title.to_string(),
            closed,
        };
        let targets = Targets::of(
            vec![
                (ItemReference::Id(ItemId(12)), item(12, "OPS-3", "Printer <jam> \"now\"", false)),
                (ItemReference::Key { project: "OPS".into(), number: 4 }, item(20, "OPS-4", "Toner", true)),
            ],
            vec![PersonTarget { id: UserId(5), login: "ann".into(), name: "Ann & Co".into() }],
        );
        let html = render("See #12, OPS-4, #13 and @ann or @olga.", TaskBoxes::Disabled, &targets);
        assert_eq!(
            html.trim(),
            "<p>See <a href=\"/items/12\" class=\"ref\" title=\"OPS-3: Printer &lt;jam&gt; &quot;now&quot;\">#12</a>, \
             <a href=\"/items/20\" class=\"ref closed\" title=\"OPS-4: Toner\">OPS-4</a>, #13 and \
             <a href=\"/items?assignee=5&amp;state=all\" class=\"mention\" title=\"Ann &amp; Co\">@ann</a> or @olga.</p>"
        );
        for untouched in ["`#12`", "[#12](https://example.com/)", "https://example.com/#12", "```\nOPS-4\n```"] {
            let html = render(untouched, TaskBoxes::Disabled, &targets);
            assert!(!html.contains("/items/"), "{untouched}: {html}");
        }
        let none = render("See #12 and @ann", TaskBoxes::Disabled, &Targets::default());
        assert_eq!(none.trim(), "<p>See #12 and @ann</p>");
        // The node keeps the text prepared: the next viewer still gets their own links, and the
        // one before them none.
        let same = "Kept: #12 and @ann <b>&</b>";
        let for_reader = render(same, TaskBoxes::Disabled, &targets);
        let for_outsider = render(same, TaskBoxes::Disabled, &Targets::default());
        assert_eq!(for_outsider.trim(), "<p>Kept: #12 and @ann <b>&amp;</b></p>");
        assert_eq!(for_reader.matches("<a href").count(), 2, "{for_reader}");
        assert_eq!(render(same, TaskBoxes::Disabled, &targets), for_reader);
        assert_eq!(references([same, "OPS-4 and #12"]).len(), 3);
        let forged = "baton-0000000000000000-r0- #12";
        assert!(render(forged, TaskBoxes::Disabled, &targets).contains("baton-0000000000000000-r0-"));
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
