//! The text of replies: the item tag in a subject, reply and forward prefixes, and the quoted
//! original below a reply.

use super::normalize_line_endings;
use crate::model::ids::ItemId;
use crate::model::item::key::ItemReference;

/// Line we put into outgoing notifications; everything below it in a reply is the quoted original.
pub const REPLY_MARKER: &str = "-- Reply above this line --";

/// Reply and forward prefixes of common mail clients, lower-case (English, German, Nordic, Dutch).
const REPLY_PREFIXES: &[&str] = &["re", "aw", "fwd", "fw", "wg", "vs", "sv", "antw"];

/// Bytes of the id if `bytes[hash]` is the '#' of a bracketed tag such as "[#1]", "[ #1 ]",
/// "[Baton #1]", "(#1)" or "[#1:".
fn tag_at(bytes: &[u8], hash: usize) -> Option<&[u8]> {
    let digits_end = bytes[hash + 1..].iter().position(|b| !b.is_ascii_digit()).map_or(bytes.len(), |p| hash + 1 + p);
    let digits = &bytes[hash + 1..digits_end];
    if digits.is_empty() {
        return None;
    }
    let closer = bytes[digits_end..].iter().find(|b| !b.is_ascii_whitespace())?;
    let before = &bytes[..hash];
    let opener_pos = before.iter().rposition(|&b| b == b'[' || b == b'(')?;
    let label = &before[opener_pos + 1..];
    let matches = match bytes[opener_pos] {
        // Only square brackets carry a project label; "(see #12)" in prose is not a tag.
        b'[' => {
            matches!(closer, b']' | b':')
                && label.len() <= 40
                && label.iter().all(|&b| b >= 0x80 || b.is_ascii_alphanumeric() || b" -_.".contains(&b))
        }
        _ => *closer == b')' && label.iter().all(u8::is_ascii_whitespace),
    };
    matches.then_some(digits)
}

/// The item tagged in a subject: an id, "[#123]" anywhere, also "[ #123 ]", "[Baton #123]",
/// "(#123)" and "[#123:"; else a key in brackets, "[OPS-42]", "(OPS-42)" or "[OPS-42:" (our
/// subjects start with the key). Reply prefixes need no special care because the tag is
/// searched anywhere. None for an untagged "#123" or "OPS-42", for 0 and for ids that do not
/// fit an i64.
pub fn subject_item_tag(subject: &str) -> Option<ItemReference> {
    let bytes = subject.as_bytes();
    let id = bytes
        .iter()
        .enumerate()
        .filter(|&(_, &b)| b == b'#')
        .filter_map(|(hash, _)| tag_at(bytes, hash))
        .filter_map(|digits| std::str::from_utf8(digits).ok()?.parse::<i64>().ok())
        .find(|&id| id > 0);
    if let Some(id) = id {
        return Some(ItemReference::Id(ItemId(id)));
    }
    subject.match_indices(['[', '(']).find_map(|(at, opener)| {
        let rest = subject[at + 1..].trim_start();
        let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-')).unwrap_or(rest.len());
        let closers: &[char] = if opener == "[" { &[']', ':'] } else { &[')'] };
        let reference = ItemReference::parse(&rest[..end])?;
        (matches!(reference, ItemReference::Key { .. }) && rest[end..].trim_start().starts_with(closers))
            .then_some(reference)
    })
}

/// The rest of `subject` after one leading reply/forward prefix such as "Re:", "AW:", "Re[2]:".
fn strip_one_prefix(subject: &str) -> Option<&str> {
    let word_end = subject.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(subject.len());
    let word = &subject[..word_end];
    if !REPLY_PREFIXES.iter().any(|p| word.eq_ignore_ascii_case(p)) {
        return None;
    }
    let mut rest = subject[word_end..].trim_start();
    // Some clients count replies: "Re[2]:" or "Re(2):".
    if let Some(counted) = rest.strip_prefix(['[', '(']) {
        let digits_end = counted.find(|c: char| !c.is_ascii_digit()).unwrap_or(counted.len());
        rest = counted[digits_end..].strip_prefix([']', ')'])?.trim_start();
    }
    rest.strip_prefix(':')
}

/// The subject without reply/forward prefixes ("Re:", "AW:", "Fwd:", "WG:", "SV:", "Re[2]:" …,
/// repeated, any case), trimmed; used as the item title.
pub fn strip_reply_prefixes(subject: &str) -> String {
    let mut rest = subject.trim();
    while let Some(stripped) = strip_one_prefix(rest) {
        rest = stripped.trim_start();
    }
    rest.trim().to_string()
}

fn is_quoted(line: &str) -> bool {
    line.trim_start().starts_with('>')
}

fn starts_with_label(line: &str, labels: &[&str]) -> bool {
    // Outlook renders header labels in bold when HTML is converted to text: "*From:* …".
    let line = line.trim().trim_start_matches('*');
    labels.iter().any(|label| line.get(..label.len()).is_some_and(|start| start.eq_ignore_ascii_case(label)))
}

/// "On … wrote:" / "Am … schrieb …:", on one line or wrapped onto the next.
fn is_attribution(lines: &[&str], index: usize) -> bool {
    let line = lines[index].trim();
    let is_match = |text: &str| {
        (text.starts_with("On ") && text.ends_with("wrote:"))
            || (text.starts_with("Am ") && text.contains(" schrieb") && text.ends_with(':'))
    };
    let wrapped = || {
        lines.get(index + 1).is_some_and(|next| !line.ends_with(':') && is_match(&format!("{line} {}", next.trim())))
    };
    is_match(line) || wrapped()
}

fn is_separator(line: &str) -> bool {
    let lower = line.trim().to_lowercase();
    let dashed = lower.starts_with("-----")
        && ["original message", "ursprüngliche nachricht", "original-nachricht"].iter().any(|s| lower.contains(s));
    dashed || (lower.len() >= 20 && lower.chars().all(|c| c == '_'))
}

/// An Outlook header block: "From:" followed by "Sent:"/"Date:" within the next lines (German
/// "Von:" with "Gesendet:"/"Datum:").
fn is_outlook_header(lines: &[&str], index: usize) -> bool {
    let following = || lines.iter().skip(index + 1).take(4);
    (starts_with_label(lines[index], &["From:"]) && following().any(|l| starts_with_label(l, &["Sent:", "Date:"])))
        || (starts_with_label(lines[index], &["Von:"])
            && following().any(|l| starts_with_label(l, &["Gesendet:", "Datum:"])))
}

fn is_reply_marker(lines: &[&str], index: usize) -> bool {
    let line = lines[index];
    !is_quoted(line)
        && (line.contains(REPLY_MARKER)
            || is_attribution(lines, index)
            || is_separator(line)
            || is_outlook_header(lines, index))
}

/// A reply body without the quoted original: cut at the first reply marker line ([`REPLY_MARKER`],
/// "On … wrote:", "Am … schrieb …:", "-----Original Message-----", Outlook header blocks, the
/// Outlook underscore separator), then drop trailing "> " lines and blank lines. Quotes interleaved
/// with new text above the marker stay. If nothing would be left, returns the whole text trimmed.
pub fn strip_quoted_reply(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let cut = (0..lines.len()).find(|&index| is_reply_marker(&lines, index)).unwrap_or(lines.len());
    let mut kept = &lines[..cut];
    while let Some((last, rest)) = kept.split_last() {
        if last.trim().is_empty() || is_quoted(last) {
            kept = rest;
        } else {
            break;
        }
    }
    let reply = kept.join("\n");
    if reply.trim().is_empty() { normalize_line_endings(text).trim().to_string() } else { reply.trim().to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_tags() {
        let cases: &[(&str, Option<i64>)] = &[
            ("[#123] Printer broken", Some(123)),
            ("Re: [#123] Printer broken", Some(123)),
            ("RE: AW: Aw: Fwd: FW: WG: VS: SV: Antw: [#7] x", Some(7)),
            ("Re[2]: [#8] x", Some(8)),
            ("Printer broken [#42]", Some(42)),
            ("[ #123 ] x", Some(123)),
            ("[Baton #123] x", Some(123)),
            ("[Baton Support #5] x", Some(5)),
            ("(#123) x", Some(123)),
            ("Re: [#123: Printer broken]", Some(123)),
            ("#123 Printer", None),
            ("Issue #123", None),
            ("(see #123)", None),
            ("[#0] x", None),
            ("[#] x", None),
            ("[#12a] x", None),
            ("[#99999999999999999999] x", None),
            ("[#9223372036854775807] x", Some(i64::MAX)),
            ("[#0] then [#5]", Some(5)),
            ("[#-3] x", None),
            ("Ärger [#9] ü", Some(9)),
            ("", None),
            ("[", None),
            ("#", None),
        ];
        for (subject, expected) in cases {
            assert_eq!(subject_item_tag(subject), expected.map(|id| ItemReference::Id(ItemId(id))), "{subject}");
        }
        let key = |project: &str, number| Some(ItemReference::Key { project: project.to_string(), number });
        let keyed: &[(&str, Option<ItemReference>)] = &[
            ("[OPS-42] Printer broken", key("OPS", 42)),
            ("Re: AW: [OPS-42] Printer broken", key("OPS", 42)),
            ("Printer broken [ ops-7 ]", key("OPS", 7)),
            ("(WEB2-3) x", key("WEB2", 3)),
            ("Re: [OPS-42: Printer broken]", key("OPS", 42)),
            ("[#5] and [OPS-42]", Some(ItemReference::Id(ItemId(5)))),
            ("OPS-42 Printer", None),
            ("[OPS-42 Printer]", None),
            ("(OPS-42: x)", None),
            ("[OPS-0] x", None),
            ("[O-1] x", None),
            ("[Ärger-1] x", None),
            ("[42] x", None),
        ];
        for (subject, expected) in keyed {
            assert_eq!(subject_item_tag(subject), *expected, "{subject}");
        }
    }

    #[test]
    fn reply_prefixes() {
        let cases: &[(&str, &str)] = &[
            ("Re: Printer broken", "Printer broken"),
            ("RE: re: Re:Printer", "Printer"),
            ("AW: Aw: WG: Fwd: FW: VS: SV: Antw: Title", "Title"),
            ("Re[2]: Title", "Title"),
            ("Re (3): Title", "Title"),
            ("Re : Title", "Title"),
            ("  Fwd:   Title  ", "Title"),
            ("Reply needed", "Reply needed"),
            ("Regarding: Title", "Regarding: Title"),
            ("Title: Re: x", "Title: Re: x"),
            ("[#12] Re: x", "[#12] Re: x"),
            ("Re:", ""),
            ("", ""),
        ];
        for (subject, expected) in cases {
            assert_eq!(strip_reply_prefixes(subject), *expected, "{subject}");
        }
    }

    #[test]
    fn quoted_reply_gmail_english() {
        let text = "Thanks, that fixed it.\n\nOn Tue, Nov 24, 2026 at 9:00 AM Baton Support <baton@example.org>\nwrote:\n\n> Please restart the printer.\n> \n";
        assert_eq!(strip_quoted_reply(text), "Thanks, that fixed it.");
        let one_line = "Great!\r\n\r\nOn Mon, 23 Nov 2026, Bob wrote:\r\n> old\r\n";
        assert_eq!(strip_quoted_reply(one_line), "Great!");
    }

    #[test]
    fn quoted_reply_german_outlook() {
        let text = "Hallo,\n\nes geht wieder.\n\nGruß\nEva\n\n*Von:* Baton <baton@example.org>\n\
            *Gesendet:* Dienstag, 24. November 2026 09:00\n*An:* Eva\n*Betreff:* [#5] Drucker\n\nAlter Text\n";
        assert_eq!(strip_quoted_reply(text), "Hallo,\n\nes geht wieder.\n\nGruß\nEva");
        let english =
            "Done.\n\nFrom: Baton <baton@example.org>\nSent: Tuesday, November 24, 2026 9:00 AM\nTo: Eva\n\nold\n";
        assert_eq!(strip_quoted_reply(english), "Done.");
        let separator = "Ok.\n________________________________\nVon: Baton\nold\n";
        assert_eq!(strip_quoted_reply(separator), "Ok.");
        let original = "Yes.\n\n-----Original Message-----\nFrom: x\nold\n";
        assert_eq!(strip_quoted_reply(original), "Yes.");
        let ursprung = "Ja.\n-----Ursprüngliche Nachricht-----\nalt\n";
        assert_eq!(strip_quoted_reply(ursprung), "Ja.");
        let am = "Danke!\n\nAm 24.11.2026 um 09:00 schrieb Baton Support <baton@example.org>:\n> alt\n";
        assert_eq!(strip_quoted_reply(am), "Danke!");
        let am_wrapped =
            "Danke!\nAm Di., 24. Nov. 2026 um 09:00 Uhr schrieb Baton Support\n<baton@example.org>:\n> alt\n";
        assert_eq!(strip_quoted_reply(am_wrapped), "Danke!");
    }

    #[test]
    fn quoted_reply_apple_mail() {
        let text = "Sounds good.\n\nSent from my iPhone\n\n> On 24. Nov 2026, at 09:00, Baton <baton@example.org> wrote:\n>\n> Old text\n";
        assert_eq!(strip_quoted_reply(text), "Sounds good.\n\nSent from my iPhone");
        let unquoted = "Sure.\n\nOn 24 Nov 2026, at 09:00, Baton <baton@example.org> wrote:\n\nOld text\n";
        assert_eq!(strip_quoted_reply(unquoted), "Sure.");
    }

    #[test]
    fn quoted_reply_our_marker() {
        let text = format!("New comment here.\n\n{REPLY_MARKER}\nItem #5 was updated by Bob.\n");
        assert_eq!(strip_quoted_reply(&text), "New comment here.");
    }

    #[test]
    fn quoted_reply_interleaved_quotes_are_kept() {
        let text = "> Does it print?\nYes it does.\n> And scan?\nNo.\n\n> Regards\n> Bob\n";
        assert_eq!(strip_quoted_reply(text), "> Does it print?\nYes it does.\n> And scan?\nNo.");
    }

    #[test]
    fn quoted_reply_never_loses_the_body() {
        let all_quoted = "\n> only quoted\n> text\n";
        assert_eq!(strip_quoted_reply(all_quoted), "> only quoted\n> text");
        let marker_only = "On Tue, Bob wrote:\n> hi\n";
        assert_eq!(strip_quoted_reply(marker_only), "On Tue, Bob wrote:\n> hi");
        assert_eq!(strip_quoted_reply(""), "");
    }
}
