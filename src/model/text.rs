//! Checks shared by every text field that comes from outside.

use crate::error::{Error, Result};

diesel::define_sql_function!(fn lower(text: diesel::sql_types::Text) -> diesel::sql_types::Text);

/// `%text%` in lower case, with LIKE's wildcards in the text escaped by `\`, for
/// `lower(column).like(pattern).escape('\\')`: finds text within text, without regard to case.
pub fn like_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for character in text.trim().to_lowercase().chars() {
        if matches!(character, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(character);
    }
    pattern.push('%');
    pattern
}

/// Longest item title, in characters.
pub const MAX_TITLE_CHARS: usize = 255;
/// Longest Markdown body (item description, comment), in bytes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A single-line text: trimmed, `min..=max` characters, no control characters.
pub fn single_line(field: &str, value: &str, min_chars: usize, max_chars: usize) -> Result<String> {
    let value = value.trim();
    let chars = value.chars().count();
    if chars < min_chars {
        return Err(Error::invalid(
            field,
            if min_chars == 1 {
                "must not be empty".to_string()
            } else {
                format!("must have at least {min_chars} characters")
            },
        ));
    }
    if chars > max_chars {
        return Err(Error::invalid(field, format!("must have at most {max_chars} characters (has {chars})")));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::invalid(field, "must not contain control characters or line breaks"));
    }
    Ok(value.to_string())
}

/// A multi-line Markdown text of at most `MAX_BODY_BYTES`, with `\n` line ends; `required`
/// rejects blank text.
pub fn body(field: &str, value: &str, required: bool) -> Result<String> {
    if value.len() > MAX_BODY_BYTES {
        return Err(Error::invalid(field, format!("must be at most {} bytes (has {})", MAX_BODY_BYTES, value.len())));
    }
    if required && value.trim().is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if value.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    // Browsers send a text area's line breaks as CRLF: stored text has one kind of line end.
    Ok(value.replace("\r\n", "\n"))
}

/// The key that makes a name unique in its project without regard to case (versions, labels,
/// components): the same on every backend, whatever its collation.
pub fn name_key(name: &str) -> String {
    name.to_lowercase()
}

/// An e-mail address, checked for the shape mail servers accept.
pub fn email(field: &str, value: &str) -> Result<String> {
    let value = value.trim();
    let valid = value.len() <= 254
        && !value.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'))
        && match value.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            }
            None => false,
        };
    if valid {
        Ok(value.to_string())
    } else {
        Err(Error::invalid(field, format!("{value:?} is not an e-mail address like name@example.com")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_line_trims_and_counts_characters_not_bytes() {
        assert_eq!(single_line("title", "  Grüße  ", 1, 5).unwrap(), "Grüße");
        assert!(single_line("title", "", 1, 5).is_err());
        assert!(single_line("title", "a\nb", 1, 5).is_err());
        assert!(single_line("title", "abcdef", 1, 5).is_err());
    }

    #[test]
    fn email_shapes() {
        assert!(email("email", "ann@example.com").is_ok());
        assert!(email("email", "ann@localhost").is_err());
        assert!(email("email", "ann example@x.org").is_err());
        assert!(email("email", "<ann@x.org>").is_err());
    }

    #[test]
    fn body_allows_newlines_but_not_nul() {
        assert!(body("description", "line\nline\ttab", true).is_ok());
        assert!(body("description", "a\0b", true).is_err());
        assert!(body("description", "  ", true).is_err());
        assert!(body("description", "", false).is_ok());
    }
}
