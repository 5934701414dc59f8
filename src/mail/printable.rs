//! Text from a mail shown on a terminal or written to the log: control characters (an
//! escape sequence can recolour, retitle or hide what an operator reads; a line break can
//! forge a log line) and the invisible characters that reorder text are shown as `\u{1b}`,
//! the way Rust writes them; everything else as it is. The API and the pages escape for
//! their own formats.

use std::fmt;

/// Displays a text with its control and bidirectional characters escaped.
pub struct Printable<'a>(pub &'a str);

impl fmt::Display for Printable<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        for character in self.0.chars() {
            if needs_escape(character) {
                write!(formatter, "\\u{{{:x}}}", u32::from(character))?;
            } else {
                fmt::Write::write_char(formatter, character)?;
            }
        }
        Ok(())
    }
}

/// The text with its control and bidirectional characters escaped.
pub fn printable(text: &str) -> String {
    Printable(text).to_string()
}

fn needs_escape(character: char) -> bool {
    character.is_control()
        || matches!(character, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn control_and_reordering_characters_are_shown_escaped() {
        assert_eq!(printable("evil\u{1b}[2J@example.com"), "evil\\u{1b}[2J@example.com");
        assert_eq!(printable("two\nlines\r\tand\u{7f}"), "two\\u{a}lines\\u{d}\\u{9}and\\u{7f}");
        assert_eq!(printable("gpj\u{202e}.exe \u{9b}"), "gpj\\u{202e}.exe \\u{9b}");
        assert_eq!(printable("Grüße, Привет \\ \"quoted\""), "Grüße, Привет \\ \"quoted\"");
    }
}
