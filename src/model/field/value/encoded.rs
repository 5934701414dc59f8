//! The values an item's row keeps (`items.field_values`), read by hand in the shape the
//! triggers write them: an array of arrays of nine, holding integers, `null` and strings. Every
//! list and search reads them for each item, and serde_json's general reader was 5.6-6.4 % of
//! the node's time for a list of 25 or a search (perf). Text with escapes, or anything else this
//! reader does not take, goes to serde_json, which reads all of JSON.

use chrono::NaiveDate;

use super::EncodedRow;
use crate::db::stored_time::parse_date;

/// The rows of `encoded`; `None` when it is not in the plain shape (serde_json reads it then).
pub(super) fn plain_rows(encoded: &str) -> Option<Vec<EncodedRow>> {
    let mut reader = Reader { bytes: encoded.as_bytes(), at: 0 };
    let mut rows = Vec::new();
    reader.expect(b'[')?;
    if !reader.eat(b']') {
        loop {
            rows.push(reader.row()?);
            if !reader.eat(b',') {
                reader.expect(b']')?;
                break;
            }
        }
    }
    reader.skip_space();
    (reader.at == reader.bytes.len()).then_some(rows)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn row(&mut self) -> Option<EncodedRow> {
        self.expect(b'[')?;
        let field = self.integer()?;
        let text = self.next(Reader::string)?;
        let long_text = self.next(Reader::string)?;
        let integer = self.next(Reader::integer)?;
        let decimal = self.next(Reader::string)?;
        let date = self.next(Reader::date)?;
        let flag = self.next(Reader::integer)?;
        let choice = self.next(Reader::integer)?;
        let user = self.next(Reader::integer)?;
        self.expect(b']')?;
        Some((field, text, long_text, integer, decimal, date, flag, choice, user))
    }

    /// After a comma, `null` or what `read` reads.
    fn next<T>(&mut self, read: fn(&mut Self) -> Option<T>) -> Option<Option<T>> {
        self.expect(b',')?;
        self.skip_space();
        if self.bytes[self.at..].starts_with(b"null") {
            self.at += 4;
            return Some(None);
        }
        read(self).map(Some)
    }

    fn skip_space(&mut self) {
        while self.bytes.get(self.at).is_some_and(|byte| matches!(byte, b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        self.skip_space();
        let found = self.bytes.get(self.at) == Some(&byte);
        if found {
            self.at += 1;
        }
        found
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        self.eat(byte).then_some(())
    }

    /// An integer without fraction or exponent that fits an `i64`.
    fn integer(&mut self) -> Option<i64> {
        self.skip_space();
        let negative = self.bytes.get(self.at) == Some(&b'-');
        if negative {
            self.at += 1;
        }
        let start = self.at;
        let mut value: i64 = 0;
        while let Some(digit) = self.bytes.get(self.at).filter(|byte| byte.is_ascii_digit()) {
            value = value.checked_mul(10)?.checked_add(i64::from(digit - b'0'))?;
            self.at += 1;
        }
        let digits = self.at - start;
        let leading_zero = digits > 1 && self.bytes[start] == b'0';
        let more = self.bytes.get(self.at).is_some_and(|byte| matches!(byte, b'.' | b'e' | b'E'));
        (digits > 0 && !leading_zero && !more).then_some(if negative { -value } else { value })
    }

    /// A string without escapes or control characters.
    fn string(&mut self) -> Option<String> {
        self.text().map(str::to_string)
    }

    /// `YYYY-MM-DD` of a day that exists.
    fn date(&mut self) -> Option<NaiveDate> {
        parse_date(self.text()?.as_bytes())
    }

    fn text(&mut self) -> Option<&str> {
        self.expect(b'"')?;
        let start = self.at;
        while let Some(&byte) = self.bytes.get(self.at) {
            match byte {
                b'"' => {
                    self.at += 1;
                    // Quotes are ASCII, so the text between them is whole characters.
                    return std::str::from_utf8(&self.bytes[start..self.at - 1]).ok();
                }
                b'\\' | 0..0x20 => return None,
                _ => self.at += 1,
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::super::EncodedRow;
    use super::plain_rows;

    fn serde(encoded: &str) -> Option<Vec<EncodedRow>> {
        serde_json::from_str(encoded).ok()
    }

    #[test]
    fn the_triggers_shapes_read_as_serde_json_reads_them() {
        for encoded in [
            "[]",
            r#"[[1,"Wayne Enterprises",null,null,null,null,null,null,null],[4,null,null,null,null,"2026-05-11",null,null,null]]"#,
            r#"[[1, "Initech", null, null, null, null, null, null, null], [3, null, null, -5, "2.5", null, 0, 7, 9]]"#,
            r#"[[2,null,"Grüße, \u00e9 — ünïcode",9223372036854775807,"0.1",null,1,null,null]]"#,
            r#"[[6,"",null,0,null,"2024-02-29",null,null,-9223372036854775807]]"#,
        ] {
            let expected = serde(encoded).expect(encoded);
            if encoded.contains('\\') {
                assert_eq!(plain_rows(encoded), None, "{encoded}");
            } else {
                assert_eq!(plain_rows(encoded), Some(expected), "{encoded}");
            }
        }
    }

    #[test]
    fn anything_else_is_left_to_serde_json() {
        for encoded in [
            "",
            "[",
            "[[]]",
            "[[1,null,null,null,null,null,null,null]]",
            "[[1,null,null,null,null,null,null,null,null,null]]",
            r#"[[1,"a\"b",null,null,null,null,null,null,null]]"#,
            "[[1,\"a\nb\",null,null,null,null,null,null,null]]",
            "[[1.5,null,null,null,null,null,null,null,null]]",
            "[[1e3,null,null,null,null,null,null,null,null]]",
            "[[01,null,null,null,null,null,null,null,null]]",
            "[[9223372036854775808,null,null,null,null,null,null,null,null]]",
            r#"[[1,null,null,null,null,"2023-02-29",null,null,null]]"#,
            r#"[[1,null,null,null,null,"2023-2-28",null,null,null]]"#,
            "[[1,nul,null,null,null,null,null,null,null]]",
            "[[1,null,null,null,null,null,null,null,null]] x",
            "[[1,null,null,null,null,null,null,null,null],]",
        ] {
            assert_eq!(plain_rows(encoded), None, "{encoded:?}");
        }
    }
}
