//! Text as mail really carries it, made fit to store: terminal colour codes and control
//! characters pasted into a mail are removed rather than refusing the mail, header lines
//! written in 8-bit without the encoding they should declare are read in the mail's own
//! charset (or windows-1252), and a body longer than an item description may be is cut at
//! a clean place, the whole text kept as an attachment.

use std::borrow::Cow;

use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::{MessageParser, MimeHeaders};

/// The name of the attachment that keeps the whole text of a body that had to be cut.
pub const FULL_TEXT_FILE_NAME: &str = "message.txt";

/// How far back from the limit a cut looks for a paragraph or line end before it settles for
/// a space: far enough to find one in any prose, near enough to keep almost all the text.
const CLEAN_CUT_WINDOW: usize = 64 * 1024;

/// The text without escape sequences and control characters, except line breaks and tabs;
/// form feeds and vertical tabs become line breaks, as they separate pages and lines.
pub fn text(text: &str) -> String {
    let mut kept = String::with_capacity(text.len());
    let mut characters = text.chars().peekable();
    while let Some(character) = characters.next() {
        match character {
            '\n' | '\t' => kept.push(character),
            '\u{b}' | '\u{c}' => kept.push('\n'),
            // ESC [ … final byte (CSI, the colour codes), ESC ] … BEL or ESC \ (OSC, window
            // titles), ESC ( B and the like, or ESC and one character; the 8-bit CSI as ESC [.
            '\u{1b}' | '\u{9b}' => {
                let kind = if character == '\u{9b}' { Some('[') } else { characters.next() };
                match kind {
                    Some('[') => {
                        while characters.next_if(|next| ('\u{20}'..='\u{3f}').contains(next)).is_some() {}
                        characters.next_if(|next| ('\u{40}'..='\u{7e}').contains(next));
                    }
                    Some(']') => {
                        while let Some(next) = characters.next() {
                            if next == '\u{7}' || (next == '\u{1b}' && characters.next_if_eq(&'\\').is_some()) {
                                break;
                            }
                        }
                    }
                    // ESC ( B and the like: intermediate bytes, then a final one.
                    Some(intermediate) if ('\u{20}'..='\u{2f}').contains(&intermediate) => {
                        while characters.next_if(|next| ('\u{20}'..='\u{2f}').contains(next)).is_some() {}
                        characters.next_if(|next| ('\u{30}'..='\u{7e}').contains(next));
                    }
                    _ => {}
                }
            }
            _ if character.is_control() => {}
            _ => kept.push(character),
        }
    }
    kept
}

/// The mail with its header lines in UTF-8: lines that are not are decoded in the charset the
/// mail declares for its body (most mail programs that skip RFC 2047 write headers in it), or
/// windows-1252 without one. A mail whose header is UTF-8 already is returned as it is.
pub fn headers_as_utf8(raw: &[u8]) -> Cow<'_, [u8]> {
    let end = header_end(raw);
    let header = &raw[..end];
    if std::str::from_utf8(header).is_ok() {
        return Cow::Borrowed(raw);
    }
    let declared = MessageParser::default().parse_headers(header).and_then(|parsed| {
        let charset = parsed.content_type()?.attribute("charset")?.to_ascii_lowercase();
        // A decoder for a charset that does not keep ASCII as it is would garble the names.
        (!charset.starts_with("utf-16") && !charset.starts_with("utf-32"))
            .then(|| charset_decoder(charset.as_bytes()))
            .flatten()
    });
    let windows_1252 = charset_decoder(b"windows-1252");
    let Some(decode) = declared.or(windows_1252) else { return Cow::Borrowed(raw) };
    let mut fixed = Vec::with_capacity(raw.len() + header.len() / 2);
    for line in header.split_inclusive(|byte| *byte == b'\n') {
        match std::str::from_utf8(line) {
            Ok(_) => fixed.extend_from_slice(line),
            Err(_) => fixed.extend_from_slice(decode(line).as_bytes()),
        }
    }
    fixed.extend_from_slice(&raw[end..]);
    Cow::Owned(fixed)
}

/// Where the header block ends: after its blank line, or at the end.
pub(super) fn header_end(raw: &[u8]) -> usize {
    let mut line_start = 0;
    while line_start < raw.len() {
        let line_end =
            raw[line_start..].iter().position(|byte| *byte == b'\n').map_or(raw.len(), |at| line_start + at + 1);
        if matches!(&raw[line_start..line_end], b"\n" | b"\r\n") {
            return line_end;
        }
        line_start = line_end;
    }
    raw.len()
}

/// The text cut to at most `limit` bytes with a note at the end, when it is longer: at the
/// last paragraph end near the limit, else the last line end, else the last space.
pub fn cut(text: &str, limit: usize) -> Option<String> {
    if text.len() <= limit {
        return None;
    }
    let note = format!(
        "\n\n[The mail's text was cut here: it is longer than {limit} bytes. The whole text is attached as \
         {FULL_TEXT_FILE_NAME}.]"
    );
    let mut budget = limit.saturating_sub(note.len());
    while !text.is_char_boundary(budget) {
        budget -= 1;
    }
    let mut window_start = budget.saturating_sub(CLEAN_CUT_WINDOW);
    while !text.is_char_boundary(window_start) {
        window_start -= 1;
    }
    let window = &text[window_start..budget];
    let end =
        ["\n\n", "\n", " "].iter().find_map(|separator| window.rfind(separator)).map_or(budget, |at| window_start + at);
    Some(format!("{}{note}", text[..end].trim_end()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_codes_and_control_characters_are_removed_line_breaks_and_tabs_kept() {
        let pasted = "\u{1b}[1;31mERROR\u{1b}[0m disk full\tnow\r\n\u{1b}]0;title\u{7}next\u{0}\u{8}\u{1b}(B";
        assert_eq!(text(pasted), "ERROR disk full\tnow\nnext");
        assert_eq!(text("page one\u{c}page two\u{b}end\u{9b}2Jx"), "page one\npage two\nendx");
        assert_eq!(text("Grüße — Привет"), "Grüße — Привет");
        assert_eq!(text("\u{1b}"), "");
    }

    #[test]
    fn eight_bit_header_lines_are_read_in_the_declared_charset_or_windows_1252() {
        let latin = b"From: J\xfcrgen <j@example.com>\r\nSubject: Gr\xfc\xdfe\r\n\r\nbody \xff\r\n";
        let fixed = headers_as_utf8(latin);
        assert!(fixed.starts_with("From: Jürgen <j@example.com>\r\nSubject: Grüße\r\n\r\n".as_bytes()));
        assert!(fixed.ends_with(b"body \xff\r\n"), "the body is left to its own charset");
        let koi8 = b"Subject: \xf0\xd2\xc9\xd7\xc5\xd4\r\nContent-Type: text/plain; charset=koi8-r\r\n\r\nx";
        assert!(headers_as_utf8(koi8).starts_with("Subject: Привет\r\n".as_bytes()));
        let utf8 = "Subject: Grüße\r\n\r\nx".as_bytes();
        assert!(matches!(headers_as_utf8(utf8), Cow::Borrowed(_)));
    }

    #[test]
    fn a_long_text_is_cut_at_a_clean_place_with_a_note() {
        assert_eq!(cut("short", 100), None);
        let paragraphs = format!("{}\n\n{}", "a".repeat(800), "b ".repeat(400));
        let cut_text = cut(&paragraphs, 1000).unwrap();
        assert!(cut_text.len() <= 1000);
        assert!(cut_text.starts_with(&format!("{}\n\n[", "a".repeat(800))), "{cut_text}");
        assert!(cut_text.ends_with("attached as message.txt.]"));
        let words = "word ".repeat(1000);
        let cut_words = cut(&words, 1000).unwrap();
        assert!(cut_words.split("\n\n").next().unwrap().ends_with("word"), "{cut_words}");
        let wide = "ü".repeat(1000);
        assert!(cut(&wide, 1001).unwrap().len() <= 1001);
    }
}
