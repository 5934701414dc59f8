//! HTML to readable text, for mail that comes only as HTML and for the search index of HTML
//! attachments: hidden elements dropped, block ends as line breaks, entities decoded. And the
//! other way: text escaped for HTML.

/// Text made safe inside HTML elements and quoted attributes.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    let mut copied = 0;
    for (at, byte) in text.bytes().enumerate() {
        let Some(entity) = entity(byte) else { continue };
        escaped.push_str(&text[copied..at]);
        escaped.push_str(entity);
        copied = at + 1;
    }
    escaped.push_str(&text[copied..]);
    escaped
}

/// What stands for `byte` in escaped text (`escape`), when it is not itself.
pub fn entity(byte: u8) -> Option<&'static str> {
    match byte {
        b'&' => Some("&amp;"),
        b'<' => Some("&lt;"),
        b'>' => Some("&gt;"),
        b'"' => Some("&quot;"),
        _ => None,
    }
}

/// Tags whose content is never shown.
const HIDDEN_TAGS: &[&str] = &["script", "style", "head", "title"];

/// Tags that end a line when they open or close.
const LINE_TAGS: &[&str] = &["div", "tr", "ul", "ol", "table", "blockquote", "center", "section", "article"];

/// Tags followed by a blank line, like paragraphs on screen.
const PARAGRAPH_TAGS: &[&str] = &["p", "h1", "h2", "h3", "h4", "h5", "h6", "hr"];

/// Incremental HTML-to-text writer: collapses whitespace like a browser and emits line breaks.
struct TextWriter {
    out: String,
    in_pre: bool,
}

impl TextWriter {
    fn text(&mut self, text: &str) {
        if self.in_pre {
            self.out.push_str(text);
            return;
        }
        for c in text.chars() {
            if c.is_whitespace() {
                if !self.out.is_empty() && !self.out.ends_with([' ', '\n']) {
                    self.out.push(' ');
                }
            } else {
                self.out.push(c);
            }
        }
    }

    /// Starts a new line unless one was just started: nested blocks must not pile up blank lines.
    fn line_break(&mut self) {
        self.out.truncate(self.out.trim_end_matches(' ').len());
        if !self.out.is_empty() && !self.out.ends_with('\n') {
            self.out.push('\n');
        }
    }

    fn paragraph_break(&mut self) {
        self.line_break();
        if !self.out.is_empty() && !self.out.ends_with("\n\n") {
            self.out.push('\n');
        }
    }

    fn tag(&mut self, name: &str, closing: bool) {
        match name {
            "br" => self.out.push('\n'),
            "li" if !closing => {
                self.line_break();
                self.out.push_str("- ");
            }
            "li" => self.line_break(),
            "pre" => {
                self.in_pre = !closing;
                self.line_break();
            }
            "td" | "th" if closing => self.text(" "),
            _ if PARAGRAPH_TAGS.contains(&name) => self.paragraph_break(),
            _ if LINE_TAGS.contains(&name) => self.line_break(),
            _ => {}
        }
    }

    /// Trims line ends and keeps at most one blank line in a row. Line starts need no trimming:
    /// collapsed text never starts a line with a space, and `<pre>` indentation must survive.
    fn finish(self) -> String {
        let mut lines: Vec<&str> = Vec::new();
        for line in self.out.lines().map(str::trim_end) {
            if !(line.is_empty() && lines.last().is_none_or(|last| last.is_empty())) {
                lines.push(line);
            }
        }
        if lines.last().is_some_and(|last| last.is_empty()) {
            lines.pop();
        }
        lines.join("\n")
    }
}

/// Name and closing flag of the tag starting at `tag[0] == '<'`, or None when the '<' is just text.
fn tag_name(tag: &str) -> Option<(String, bool)> {
    let inner = tag.strip_prefix('<')?;
    let (closing, inner) = inner.strip_prefix('/').map_or((false, inner), |rest| (true, rest));
    let end = inner.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(inner.len());
    let name = &inner[..end];
    name.starts_with(|c: char| c.is_ascii_alphabetic()).then(|| (name.to_ascii_lowercase(), closing))
}

/// End of the tag that starts at `start` (index after its '>'), honouring quoted attribute values.
fn tag_end(html: &str, start: usize) -> usize {
    let mut quote: Option<char> = None;
    for (offset, c) in html[start..].char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '"' | '\'') => quote = Some(c),
            (None, '>') => return start + offset + 1,
            _ => {}
        }
    }
    html.len()
}

/// HTML to readable text: drops script/style/head content, turns `<br>` and block ends into line
/// breaks, prefixes list items with "- ", decodes entities, keeps at most one blank line in a row.
pub fn html_to_text(html: &str) -> String {
    // ASCII lower-casing keeps byte offsets, so positions found in `lower` are valid in `html`.
    let lower = html.to_ascii_lowercase();
    let mut writer = TextWriter { out: String::with_capacity(html.len()), in_pre: false };
    let mut pos = 0;
    while let Some(found) = html[pos..].find('<') {
        let start = pos + found;
        writer.text(&decode_entities(&html[pos..start]));
        if lower[start..].starts_with("<!--") {
            pos = lower[start..].find("-->").map_or(html.len(), |end| start + end + 3);
            continue;
        }
        let Some((name, closing)) = tag_name(&html[start..]).or_else(|| {
            (lower[start..].starts_with("<!") || lower[start..].starts_with("<?")).then(|| (String::new(), false))
        }) else {
            writer.text("<");
            pos = start + 1;
            continue;
        };
        pos = tag_end(html, start);
        if !closing && HIDDEN_TAGS.contains(&name.as_str()) {
            let close = format!("</{name}");
            pos = lower[pos..].find(&close).map_or(html.len(), |end| tag_end(html, pos + end));
            continue;
        }
        writer.tag(&name, closing);
    }
    writer.text(&decode_entities(&html[pos..]));
    writer.finish()
}

fn named_entity(name: &str) -> Option<char> {
    let c = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" | "ensp" | "emsp" | "thinsp" => ' ',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "euro" => '€',
        "pound" => '£',
        "yen" => '¥',
        "cent" => '¢',
        "sect" => '§',
        "deg" => '°',
        "plusmn" => '±',
        "times" => '×',
        "divide" => '÷',
        "middot" => '·',
        "bull" => '•',
        "hellip" => '…',
        "ndash" => '–',
        "mdash" => '—',
        "lsquo" => '‘',
        "rsquo" => '’',
        "sbquo" => '‚',
        "ldquo" => '“',
        "rdquo" => '”',
        "bdquo" => '„',
        "laquo" => '«',
        "raquo" => '»',
        "larr" => '←',
        "rarr" => '→',
        "auml" => 'ä',
        "ouml" => 'ö',
        "uuml" => 'ü',
        "Auml" => 'Ä',
        "Ouml" => 'Ö',
        "Uuml" => 'Ü',
        "szlig" => 'ß',
        "eacute" => 'é',
        "egrave" => 'è',
        "ecirc" => 'ê',
        "Eacute" => 'É',
        "aacute" => 'á',
        "agrave" => 'à',
        "acirc" => 'â',
        "iacute" => 'í',
        "oacute" => 'ó',
        "uacute" => 'ú',
        "ccedil" => 'ç',
        "ntilde" => 'ñ',
        "aring" => 'å',
        "oslash" => 'ø',
        "aelig" => 'æ',
        _ => return None,
    };
    Some(c)
}

fn numeric_entity(body: &str) -> Option<char> {
    let number = body.strip_prefix('#')?;
    let code = match number.strip_prefix(['x', 'X']) {
        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
        None => number.parse::<u32>().ok()?,
    };
    // NUL and invalid code points become the replacement character, as browsers do.
    Some(char::from_u32(code).filter(|&c| c != '\0').unwrap_or('\u{FFFD}'))
}

/// Decodes `&name;`, `&#NN;` and `&#xNN;`; anything unknown stays as written.
fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let decoded = after
            .find(';')
            .filter(|&semi| semi <= 10)
            .and_then(|semi| Some((numeric_entity(&after[..semi]).or_else(|| named_entity(&after[..semi]))?, semi)));
        match decoded {
            Some((c, semi)) => {
                out.push(c);
                rest = &after[semi + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(escape("plain text, é"), "plain text, é");
        assert_eq!(
            escape(r#"<a href="x">Tom & "Jerry"</a>'"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &quot;Jerry&quot;&lt;/a&gt;'"
        );
        assert_eq!(escape("&amp;"), "&amp;amp;");
        assert_eq!(escape(""), "");
    }

    #[test]
    fn html_conversion() {
        assert_eq!(html_to_text("<div>a</div><div>b</div>"), "a\nb");
        assert_eq!(html_to_text("<p>one</p>\n\n<p></p><p></p><p>two</p>"), "one\n\ntwo");
        assert_eq!(html_to_text("<h1>Title</h1>text"), "Title\n\ntext");
        assert_eq!(html_to_text("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>"), "a b\nc");
        assert_eq!(
            html_to_text("&lt;tag&gt; &quot;q&quot; &#65;&#x42;&#X43; &euro; &unknown; & a&b"),
            "<tag> \"q\" ABC € &unknown; & a&b"
        );
        assert_eq!(html_to_text("&#0; &#x110000; &#99999999999;"), "\u{FFFD} \u{FFFD} &#99999999999;");
        assert_eq!(html_to_text("<!DOCTYPE html><!-- hidden <p>x</p> --><?xml x?>shown"), "shown");
        assert_eq!(html_to_text("<a href=\"x>y\" title='>'>link</a> 1 < 2"), "link 1 < 2");
        assert_eq!(html_to_text("<SCRIPT type=x>if (a<b) {}</SCRIPT>ok<STYLE>x</style>"), "ok");
        assert_eq!(html_to_text("<pre>a  b\n  c</pre>"), "a  b\n  c");
        assert_eq!(html_to_text("a<br/>b<BR>c"), "a\nb\nc");
        assert_eq!(html_to_text("<script>never closed"), "");
        assert_eq!(html_to_text("<p unclosed"), "");
        assert_eq!(html_to_text("Grüße&nbsp;&auml;"), "Grüße ä");
    }
}
