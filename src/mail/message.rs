//! Inbound mail: parsing raw RFC 5322 bytes into an [`InboundMail`] and classifying it.
//!
//! The tracker turns new mail into items and replies into comments. This module does the pure
//! part of that: MIME decoding (delegated to `mail-parser`, which also handles RFC 2047/2231
//! encoded words and charsets; 8-bit header lines without them are read by `clean`), picking a
//! readable text body without control characters, collecting attachments under safe file
//! names, the keys that tell one mail from another, what the sender's servers and ours said
//! about it (`Authentication-Results`, the envelope recipients), whether it must not be
//! answered (`automatic`), and the text helpers for subjects and quoted replies. No I/O
//! happens here.

use std::collections::HashSet;
use std::fmt;

use mail_parser::{Addr, HeaderValue, Message, MessageParser, MessagePart, MimeHeaders, PartType};
use sha2::{Digest, Sha256};

use crate::mail::{automatic, clean};
use crate::model::html::html_to_text;

/// Header we put on every mail we send, carrying this installation's loop id.
pub const LOOP_HEADER: &str = "X-Baton-Loop";

/// Line we put into outgoing notifications; everything below it in a reply is the quoted original.
pub const REPLY_MARKER: &str = "-- Reply above this line --";

/// Longest file name most file systems accept, in bytes.
const MAX_FILE_NAME_BYTES: usize = 255;

/// Reply and forward prefixes of common mail clients, lower-case (English, German, Nordic, Dutch).
const REPLY_PREFIXES: &[&str] = &["re", "aw", "fwd", "fw", "wg", "vs", "sv", "antw"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub name: Option<String>,
    /// Lower-cased and trimmed.
    pub email: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailAttachment {
    /// Safe to use as a file name: no path separators, no control characters, never empty, at most 255 bytes.
    pub file_name: String,
    /// Lower-case `type/subtype` without parameters.
    pub content_type: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundMail {
    /// Message-ID without angle brackets; when the mail has none: "sha256:" + hex SHA-256 of the raw bytes.
    pub message_key: String,
    pub has_message_id: bool,
    /// What the mail says, without what servers added on the way (see [`content_digest`]).
    pub content_digest: String,
    /// Ids without angle brackets.
    pub in_reply_to: Vec<String>,
    /// Ids without angle brackets.
    pub references: Vec<String>,
    /// Decoded, whitespace-collapsed, may be empty.
    pub subject: String,
    pub from: Option<Address>,
    /// How many addresses the From headers name together: only a mail from exactly one can
    /// have its sender verified.
    pub from_addresses: usize,
    /// The values of the `Authentication-Results` headers, top first.
    pub authentication_results: Vec<String>,
    /// Who the receiving servers delivered it to (`Delivered-To`, `X-Original-To`,
    /// `Envelope-To`), lower case.
    pub envelope_recipients: Vec<String>,
    pub reply_to: Option<Address>,
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    /// Plain text body; for HTML-only mail the HTML converted to text. Line endings "\n"; no
    /// control characters but tabs.
    pub text: String,
    /// Real attachments and inline non-text parts (images etc.); not the text/html body alternatives.
    pub attachments: Vec<MailAttachment>,
    /// Why this mail must not be processed automatically (auto-reply, bulk, loop …), or None.
    pub automatic: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailError {
    Unparseable(String),
    NoSender,
}

impl fmt::Display for MailError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MailError::Unparseable(why) => write!(f, "unparseable mail: {why}"),
            MailError::NoSender => write!(f, "mail has no sender address"),
        }
    }
}

impl std::error::Error for MailError {}

/// The Message-ID (without angle brackets) in a message's header block, if it has one.
pub fn message_id_of_header(header: &[u8]) -> Option<String> {
    let parsed = MessageParser::default().parse_headers(header)?;
    parsed.message_id().map(|id| id.trim().trim_matches(['<', '>']).replace('\0', "")).filter(|id| !id.is_empty())
}

/// The key of a mail without a Message-ID (or one that cannot be parsed): its SHA-256.
pub fn message_key_of_raw(raw: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(raw)))
}

/// The headers that make a mail this mail; not the trace headers (Received, Delivered-To,
/// Authentication-Results …) that each delivery adds.
const CONTENT_HEADERS: &[&str] =
    &["From", "To", "Cc", "Subject", "Date", "Message-ID", "In-Reply-To", "References", "Content-Type"];

/// A digest of what a mail says: its content headers and its body, line endings aside. A
/// redelivery of a mail has the same digest, another mail that reuses its Message-ID (as
/// copiers and monitoring scripts do) a different one.
pub fn content_digest(raw: &[u8]) -> String {
    let end = clean::header_end(raw);
    let mut hasher = content_headers_hasher(&raw[..end]);
    for piece in raw[end..].split(|byte| *byte == b'\r') {
        hasher.update(piece);
    }
    hex::encode(hasher.finalize())
}

/// The digest of a mail too large to fetch, from its header block and its size.
pub fn header_digest(header: &[u8], size: u64) -> String {
    let mut hasher = content_headers_hasher(header);
    hasher.update(format!("size:{size}"));
    hex::encode(hasher.finalize())
}

fn content_headers_hasher(header: &[u8]) -> Sha256 {
    let mut hasher = Sha256::new();
    if let Some(headers) = MessageParser::default().parse_headers(header) {
        for name in CONTENT_HEADERS {
            for value in header_values(&headers, name) {
                hasher.update(format!("{name}:{value}\n"));
            }
        }
    }
    hasher.update(b"\n");
    hasher
}

/// Parses raw mail bytes.
///
/// `own_addresses` are our mailbox addresses (lower-case); `loop_id` is this installation's value of
/// [`LOOP_HEADER`]. Both only feed the `automatic` classification.
pub fn parse(raw: &[u8], own_addresses: &[String], loop_id: &str) -> Result<InboundMail, MailError> {
    let readable = clean::headers_as_utf8(raw);
    let first = MessageParser::default()
        .parse(readable.as_ref())
        .ok_or_else(|| MailError::Unparseable("no mail headers found".to_string()))?;
    let repaired = with_boundary_found(readable.as_ref(), &first);
    let message = match repaired.as_deref().and_then(|repaired| MessageParser::default().parse(repaired)) {
        Some(message) if !join_text_parts(message.text_bodies()).trim().is_empty() => message,
        _ => first,
    };
    if !message.headers().iter().any(|header| is_field_name(header.name())) {
        return Err(MailError::Unparseable("no mail headers found".to_string()));
    }
    let from = message.from().and_then(first_address).ok_or(MailError::NoSender)?;
    let from_addresses = message
        .headers()
        .iter()
        .filter(|header| header.name().eq_ignore_ascii_case("From"))
        .map(|header| match header.value() {
            HeaderValue::Address(list) => list.iter().count(),
            _ => 0,
        })
        .sum();
    let (message_key, has_message_id) = match message.message_id().map(str::trim).filter(|id| !id.is_empty()) {
        Some(id) => (id.trim_matches(['<', '>']).replace('\0', ""), true),
        None => (message_key_of_raw(raw), false),
    };
    let (text, recovered_body) = body(&message);
    let ours = automatic::Ours { addresses: own_addresses, loop_id };
    let automatic = automatic::reason(&message, &from, &text, &ours);
    let envelope_recipients = ["Delivered-To", "X-Original-To", "Envelope-To"]
        .iter()
        .flat_map(|name| header_values(&message, name))
        .map(|value| value.trim().trim_matches(['<', '>']).trim().to_lowercase().replace('\0', ""))
        .filter(|address| !address.is_empty())
        .collect();
    Ok(InboundMail {
        message_key,
        has_message_id,
        content_digest: content_digest(raw),
        in_reply_to: message_ids(message.in_reply_to()),
        references: message_ids(message.references()),
        subject: collapse_whitespace(&clean::text(message.subject().unwrap_or_default())),
        from_addresses,
        authentication_results: header_values(&message, "Authentication-Results"),
        envelope_recipients,
        reply_to: message.reply_to().and_then(first_address),
        to: message.all_to().flat_map(addresses).collect(),
        cc: message.all_cc().flat_map(addresses).collect(),
        text,
        attachments: attachments(&message, recovered_body),
        automatic,
        from: Some(from),
    })
}

/// A multipart mail whose declared boundary never occurs in it, with the header naming the
/// boundary its parts really have: mail-parser then sees one text part holding them all.
fn with_boundary_found(readable: &[u8], message: &Message<'_>) -> Option<Vec<u8>> {
    let root = message.root_part();
    let content_type = root.content_type()?;
    let declared =
        content_type.attribute("boundary").filter(|_| content_type.ctype().eq_ignore_ascii_case("multipart"))?;
    let PartType::Text(body) = &root.body else { return None };
    if message.parts.len() != 1 {
        return None;
    }
    let found = body
        .lines()
        .map(str::trim_end)
        .find_map(|line| line.strip_prefix("--").filter(|boundary| boundary.len() > 1 && *boundary != declared))?
        .trim_end_matches("--");
    let end = clean::header_end(readable);
    let header = std::str::from_utf8(&readable[..end]).ok()?;
    header.contains(declared).then(|| [header.replacen(declared, found, 1).as_bytes(), &readable[end..]].concat())
}

/// mail-parser turns any first line into a header, even random text; RFC 5322 field names are
/// printable ASCII without spaces and colons, so only those show that the bytes are mail.
fn is_field_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':')
}

fn to_address(addr: &Addr<'_>) -> Option<Address> {
    // PostgreSQL cannot store NUL, and no address has one.
    let email = addr.address.as_deref()?.trim().to_lowercase().replace('\0', "");
    if email.is_empty() {
        return None;
    }
    let name = addr.name.as_deref().map(|name| collapse_whitespace(&clean::text(name))).filter(|name| !name.is_empty());
    Some(Address { name, email })
}

fn addresses(list: &mail_parser::Address<'_>) -> Vec<Address> {
    list.iter().filter_map(to_address).collect()
}

fn first_address(list: &mail_parser::Address<'_>) -> Option<Address> {
    list.iter().find_map(to_address)
}

/// mail-parser yields one id as `Text` and several as `TextList`; malformed headers may still
/// carry brackets or blanks, which must not end up in thread lookups.
fn message_ids(value: &HeaderValue<'_>) -> Vec<String> {
    let raw: Vec<&str> = match value {
        HeaderValue::Text(id) => vec![id.as_ref()],
        HeaderValue::TextList(ids) => ids.iter().map(|id| id.as_ref()).collect(),
        _ => Vec::new(),
    };
    let mut ids: Vec<String> = Vec::with_capacity(raw.len());
    for id in raw {
        let id = id.trim().trim_matches(['<', '>']).trim().replace('\0', "");
        if !id.is_empty() && !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids
}

pub(super) fn collapse_whitespace(subject: &str) -> String {
    let visible: String = subject.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    visible.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn normalize_line_endings(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

/// The readable body and, when it had to be taken from a part mail-parser filed as an attachment,
/// that part's id. mail-parser already chose the text alternative where there is one and lists the
/// HTML part as the text body of HTML-only mail; inline images can sit in that list too.
fn body(message: &Message<'_>) -> (String, Option<u32>) {
    let mut text = join_text_parts(message.text_bodies());
    if text.trim().is_empty() {
        text = join_text_parts(message.html_bodies());
    }
    let mut recovered = None;
    if text.trim().is_empty() {
        recovered = recovered_body_id(message);
        text = join_text_parts(recovered.and_then(|id| message.part(id)).into_iter());
    }
    (clean::text(&normalize_line_endings(&text)).trim_end().to_string(), recovered)
}

/// A text part that mail-parser could only partly decode (a boundary that never closes, broken
/// base64) is filed as an unnamed attachment, and so is the whole body of a multipart mail
/// whose boundary never occurs; for a mail without any other body it is the body.
fn recovered_body_id(message: &Message<'_>) -> Option<u32> {
    message.attachments.iter().copied().find(|&id| {
        message.part(id).is_some_and(|part| {
            (part.is_encoding_problem || id == 0)
                && matches!(part.body, PartType::Text(_) | PartType::Html(_))
                && part.attachment_name().is_none()
        })
    })
}

/// Plain parts win over HTML ones: a multipart/mixed mail may carry the same text both ways.
fn join_text_parts<'a>(parts: impl Iterator<Item = &'a MessagePart<'a>>) -> String {
    let (plain, html): (Vec<&MessagePart<'_>>, Vec<&MessagePart<'_>>) = parts
        .filter(|part| matches!(part.body, PartType::Text(_) | PartType::Html(_)))
        .partition(|part| matches!(part.body, PartType::Text(_)));
    let texts: Vec<String> = if plain.is_empty() { html } else { plain }
        .into_iter()
        .filter_map(|part| match &part.body {
            PartType::Text(text) => Some(text.to_string()),
            PartType::Html(html) => Some(html_to_text(html)),
            _ => None,
        })
        .filter(|text| !text.trim().is_empty())
        .collect();
    texts.join("\n\n")
}

fn attachments(message: &Message<'_>, body_id: Option<u32>) -> Vec<MailAttachment> {
    let mut used_names = HashSet::new();
    message
        .attachments
        .iter()
        .filter(|&&id| Some(id) != body_id)
        .filter_map(|&id| message.part(id))
        .filter(|part| !matches!(part.body, PartType::Multipart(_)))
        .enumerate()
        .map(|(index, part)| {
            let fallback = format!("attachment-{}", index + 1);
            let name = part.attachment_name().map(safe_file_name).filter(|name| !name.is_empty()).unwrap_or(fallback);
            MailAttachment {
                file_name: unique_name(&name, &mut used_names),
                content_type: content_type(part),
                bytes: part.contents().to_vec(),
            }
        })
        .collect()
}

fn content_type(part: &MessagePart<'_>) -> String {
    let declared = part.content_type().and_then(|ct| {
        let subtype = ct.c_subtype.as_deref()?;
        let full = format!("{}/{}", ct.c_type.trim(), subtype.trim()).to_ascii_lowercase();
        let is_token =
            |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b));
        full.split_once('/').is_some_and(|(kind, sub)| is_token(kind) && is_token(sub)).then_some(full)
    });
    declared.unwrap_or_else(|| {
        match part.body {
            PartType::Text(_) => "text/plain",
            PartType::Html(_) => "text/html",
            PartType::Message(_) => "message/rfc822",
            _ => "application/octet-stream",
        }
        .to_string()
    })
}

/// Bidirectional overrides let "gpj.exe" display as "exe.jpg"; they have no place in a file name.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Keeps only the last path component so a sender cannot steer where the file lands, and drops
/// characters that confuse terminals or file systems. May return an empty string.
fn safe_file_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last.chars().filter(|&c| !c.is_control() && !is_bidi_control(c)).collect();
    // Leading dots would make hidden files or the names "." and "..".
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    truncate_keeping_extension(cleaned, "")
}

/// Cuts `stem + suffix + extension` to the file name limit, shortening the stem and never
/// splitting a character.
fn truncate_keeping_extension(name: &str, suffix: &str) -> String {
    let (stem, extension) = match name.rfind('.') {
        Some(dot) if dot > 0 && name.len() - dot <= 16 => name.split_at(dot),
        _ => (name, ""),
    };
    let budget = MAX_FILE_NAME_BYTES.saturating_sub(suffix.len() + extension.len());
    let mut end = stem.len().min(budget);
    while !stem.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{suffix}{extension}", &stem[..end])
}

/// Two attachments with the same name would overwrite each other when saved, so later ones get
/// "-2", "-3" … before the extension.
fn unique_name(name: &str, used: &mut HashSet<String>) -> String {
    let mut candidate = name.to_string();
    let mut counter = 2usize;
    while used.contains(&candidate.to_lowercase()) {
        candidate = truncate_keeping_extension(name, &format!("-{counter}"));
        counter += 1;
    }
    used.insert(candidate.to_lowercase());
    candidate
}

/// The unfolded, trimmed raw values of all top-level headers with this name (case-insensitive).
/// Raw values are used because mail-parser interprets some of these headers (Return-Path) in
/// ways that lose the distinction between "<>" and absent.
pub(super) fn header_values(message: &Message<'_>, name: &str) -> Vec<String> {
    message
        .headers()
        .iter()
        .filter(|header| header.name().eq_ignore_ascii_case(name))
        .map(|header| {
            let range = header.offset_start() as usize..header.offset_end() as usize;
            let raw = message.raw_message.get(range).unwrap_or_default();
            collapse_whitespace(&String::from_utf8_lossy(raw))
        })
        .collect()
}

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

/// The item id tagged in a subject: "[#123]" anywhere, also "[ #123 ]", "[Baton #123]", "(#123)"
/// and "[#123:". Reply prefixes need no special care because the tag is searched anywhere.
/// None for an untagged "#123", for 0 and for ids that do not fit an i64.
pub fn subject_item_tag(subject: &str) -> Option<i64> {
    let bytes = subject.as_bytes();
    bytes
        .iter()
        .enumerate()
        .filter(|&(_, &b)| b == b'#')
        .filter_map(|(hash, _)| tag_at(bytes, hash))
        .filter_map(|digits| std::str::from_utf8(digits).ok()?.parse::<i64>().ok())
        .find(|&id| id > 0)
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

    const LOOP_ID: &str = "loop-4711";

    fn own() -> Vec<String> {
        vec!["baton@example.org".to_string()]
    }

    fn parse_ok(raw: &[u8]) -> InboundMail {
        parse(raw, &own(), LOOP_ID).expect("mail parses")
    }

    #[test]
    fn plain_mail() {
        let raw = b"From: \"Alice Example\" <Alice@Example.COM >\r\n\
            To: Baton <baton@example.org>, bob@example.net\r\n\
            Cc: carol@example.net\r\n\
            Reply-To: replies@example.com\r\n\
            Subject: Printer   is\r\n broken\r\n\
            Message-ID: <abc.123@example.com>\r\n\
            Date: Tue, 24 Nov 2026 08:00:00 +0000\r\n\
            \r\n\
            Hello,\r\nthe printer is broken.\r\n";
        let mail = parse_ok(raw);
        assert_eq!(mail.message_key, "abc.123@example.com");
        assert!(mail.has_message_id);
        assert_eq!(mail.subject, "Printer is broken");
        assert_eq!(
            mail.from,
            Some(Address { name: Some("Alice Example".to_string()), email: "alice@example.com".to_string() })
        );
        assert_eq!(mail.reply_to.map(|a| a.email), Some("replies@example.com".to_string()));
        let to: Vec<&str> = mail.to.iter().map(|a| a.email.as_str()).collect();
        assert_eq!(to, ["baton@example.org", "bob@example.net"]);
        assert_eq!(mail.cc[0].email, "carol@example.net");
        assert_eq!(mail.text, "Hello,\nthe printer is broken.");
        assert!(mail.attachments.is_empty());
        assert_eq!(mail.automatic, None);
        assert!(mail.in_reply_to.is_empty() && mail.references.is_empty());
    }

    #[test]
    fn alternative_prefers_plain_text() {
        let raw = b"From: a@example.com\nSubject: alt\nMIME-Version: 1.0\n\
            Content-Type: multipart/alternative; boundary=\"b1\"\n\n\
            --b1\nContent-Type: text/plain; charset=utf-8\n\nPlain version\n\
            --b1\nContent-Type: text/html; charset=utf-8\n\n<p>HTML <b>version</b></p>\n\
            --b1--\n";
        let mail = parse_ok(raw);
        assert_eq!(mail.text, "Plain version");
        assert!(mail.attachments.is_empty());
    }

    #[test]
    fn mixed_text_and_html_prefers_text() {
        let raw = b"From: a@example.com\nContent-Type: multipart/mixed; boundary=q\n\n\
            --q\nContent-Type: text/plain\n\nPlain\n--q\nContent-Type: text/html\n\n<p>Html</p>\n\
            --q\nContent-Type: message/rfc822\n\nFrom: c@example.com\nSubject: inner\n\ninner body\n--q--\n";
        let mail = parse_ok(raw);
        assert_eq!(mail.text, "Plain");
        assert_eq!(mail.attachments.len(), 1);
        assert_eq!(mail.attachments[0].content_type, "message/rfc822");
        assert!(String::from_utf8_lossy(&mail.attachments[0].bytes).contains("Subject: inner"));
    }

    #[test]
    fn html_only_is_converted() {
        let raw = b"From: a@example.com\nSubject: html\nContent-Type: text/html; charset=utf-8\n\n\
            <html><head><title>T</title><style>p{color:red}</style></head>\
            <body><p>Hello&nbsp;&amp; welcome</p><ul><li>one</li><li>two</li></ul>\
            <script>alert(1)</script>Bye<br>now</body></html>\n";
        let mail = parse_ok(raw);
        assert_eq!(mail.text, "Hello & welcome\n\n- one\n- two\nBye\nnow");
        assert!(mail.attachments.is_empty());
    }

    #[test]
    fn attachment_and_inline_image() {
        let raw = b"From: a@example.com\nSubject: files\nContent-Type: multipart/mixed; boundary=outer\n\n\
            --outer\nContent-Type: multipart/related; boundary=rel\n\n\
            --rel\nContent-Type: multipart/alternative; boundary=alt\n\n\
            --alt\nContent-Type: text/plain\n\nSee the logo.\n\
            --alt\nContent-Type: text/html\n\n<p>See the <img src=\"cid:logo\"> logo.</p>\n\
            --alt--\n\
            --rel\nContent-Type: image/png; name=\"logo.png\"\nContent-ID: <logo>\n\
            Content-Disposition: inline; filename=\"logo.png\"\nContent-Transfer-Encoding: base64\n\n\
            iVBORw0KGgo=\n\
            --rel--\n\
            --outer\nContent-Type: application/pdf; name=\"report.pdf\"\n\
            Content-Disposition: attachment; filename=\"report.pdf\"\nContent-Transfer-Encoding: base64\n\n\
            JVBERi0xLjQK\n\
            --outer--\n";
        let mail = parse_ok(raw);
        assert_eq!(mail.text, "See the logo.");
        let summary: Vec<(&str, &str, &[u8])> = mail
            .attachments
            .iter()
            .map(|a| (a.file_name.as_str(), a.content_type.as_str(), a.bytes.as_slice()))
            .collect();
        assert_eq!(
            summary,
            [
                ("logo.png", "image/png", &b"\x89PNG\r\n\x1a\n"[..]),
                ("report.pdf", "application/pdf", &b"%PDF-1.4\n"[..])
            ]
        );
    }

    #[test]
    fn two_hundred_attachments_get_distinct_safe_names() {
        let mut raw =
            String::from("From: a@example.com\nSubject: many\nContent-Type: multipart/mixed; boundary=xx\n\n");
        raw.push_str("--xx\nContent-Type: text/plain\n\nMany files.\n");
        for i in 0..200 {
            let disposition = match i % 3 {
                0 => "attachment".to_string(),
                1 => "attachment; filename=\"dup.txt\"".to_string(),
                _ => format!("attachment; filename=\"file-{i}.bin\""),
            };
            raw.push_str(&format!(
                "--xx\nContent-Type: application/octet-stream\nContent-Disposition: {disposition}\n\
                 Content-Transfer-Encoding: base64\n\nAAEC\n"
            ));
        }
        raw.push_str("--xx--\n");
        let mail = parse_ok(raw.as_bytes());
        assert_eq!(mail.text, "Many files.");
        assert_eq!(mail.attachments.len(), 200);
        let names: HashSet<&str> = mail.attachments.iter().map(|a| a.file_name.as_str()).collect();
        assert_eq!(names.len(), 200);
        assert!(names.contains("dup.txt") && names.contains("dup-2.txt") && names.contains("file-2.bin"));
        for attachment in &mail.attachments {
            assert!(!attachment.file_name.is_empty() && !attachment.file_name.contains(['/', '\\']));
            assert_eq!(attachment.bytes, [0, 1, 2]);
        }
    }

    fn attachment_named(disposition: &str) -> MailAttachment {
        let raw = format!(
            "From: a@example.com\nSubject: f\nContent-Type: multipart/mixed; boundary=zz\n\n\
             --zz\nContent-Type: text/plain\n\nx\n\
             --zz\nContent-Type: application/octet-stream\nContent-Disposition: {disposition}\n\ndata\n--zz--\n"
        );
        parse_ok(raw.as_bytes()).attachments.into_iter().next().expect("one attachment")
    }

    #[test]
    fn file_names_are_made_safe() {
        assert_eq!(attachment_named("attachment; filename=\"../../etc/passwd\"").file_name, "passwd");
        assert_eq!(attachment_named("attachment; filename=\"C:\\\\temp\\\\evil.exe\"").file_name, "evil.exe");
        assert_eq!(attachment_named("attachment; filename=\"..\"").file_name, "attachment-1");
        assert_eq!(
            attachment_named("attachment; filename*=UTF-8''%C3%BCbersicht%20%E2%82%AC.pdf").file_name,
            "übersicht €.pdf"
        );
        assert_eq!(
            attachment_named("attachment; filename=\"=?UTF-8?Q?r=C3=A9sum=C3=A9.txt?=\"").file_name,
            "résumé.txt"
        );
        assert_eq!(safe_file_name("a\u{0}b\u{7}c\u{202E}gpj.exe"), "abcgpj.exe");
        let long = format!("{}.pdf", "ä".repeat(300));
        let truncated = attachment_named(&format!("attachment; filename=\"{long}\"")).file_name;
        assert!(truncated.len() <= MAX_FILE_NAME_BYTES && truncated.ends_with("ää.pdf"));
    }

    #[test]
    fn encoded_subjects() {
        let b = parse_ok(b"From: a@example.com\nSubject: =?UTF-8?B?w4RyZ2VyIG1pdCDigqw=?=\n\nx\n");
        assert_eq!(b.subject, "Ärger mit €");
        let q =
            parse_ok(b"From: a@example.com\nSubject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus?=\n =?UTF-8?Q?_K=C3=B6ln?=\n\nx\n");
        assert_eq!(q.subject, "Grüße aus Köln");
        let none = parse_ok(b"From: a@example.com\n\nx\n");
        assert_eq!(none.subject, "");
    }

    fn body_in(charset: &str, body: &[u8]) -> String {
        let mut raw =
            format!("From: a@example.com\nSubject: c\nContent-Type: text/plain; charset={charset}\n\n").into_bytes();
        raw.extend_from_slice(body);
        parse_ok(&raw).text
    }

    #[test]
    fn legacy_charsets_are_decoded() {
        assert_eq!(body_in("windows-1252", b"Preis: 5\x80, f\xe4llig"), "Preis: 5€, fällig");
        assert_eq!(body_in("iso-8859-1", b"Gr\xfc\xdfe"), "Grüße");
        assert_eq!(body_in("koi8-r", b"\xf0\xd2\xc9\xd7\xc5\xd4, \xcd\xc9\xd2"), "Привет, мир");
        assert_eq!(body_in("\"ISO-2022-JP\"", b"\x1b$B%O%m!<!&%o!<%k%I\x1b(B"), "ハロー・ワールド");
    }

    #[test]
    fn eight_bit_body_without_charset_is_lossy() {
        let mail = parse_ok(b"From: a@example.com\nSubject: 8bit\n\nabc \xff\xfe \xe4 def\n");
        assert!(mail.text.starts_with("abc ") && mail.text.ends_with(" def"));
        assert!(mail.text.contains('\u{FFFD}'));
    }

    #[test]
    fn missing_message_id_uses_hash_of_raw() {
        let raw = b"From: a@example.com\nSubject: no id\n\nx\n";
        let first = parse_ok(raw);
        assert!(!first.has_message_id);
        assert_eq!(first.message_key, format!("sha256:{}", hex::encode(Sha256::digest(raw))));
        assert_eq!(first.message_key.len(), "sha256:".len() + 64);
        assert_eq!(parse_ok(raw).message_key, first.message_key);
        assert_ne!(parse_ok(b"From: a@example.com\nSubject: no id\n\ny\n").message_key, first.message_key);
    }

    #[test]
    fn thread_headers_with_several_ids() {
        let raw = b"From: a@example.com\nSubject: Re: x\nMessage-ID: <r@x>\n\
            In-Reply-To: <p2@example.com> <p1@example.com>\n\
            References: <root@example.com>\n <p1@example.com>\n\t<p2@example.com>\n\nx\n";
        let mail = parse_ok(raw);
        assert_eq!(mail.in_reply_to, ["p2@example.com", "p1@example.com"]);
        assert_eq!(mail.references, ["root@example.com", "p1@example.com", "p2@example.com"]);
        let single = parse_ok(b"From: a@example.com\nIn-Reply-To: <only@x>\n\nx\n");
        assert_eq!(single.in_reply_to, ["only@x"]);
    }

    #[test]
    fn errors() {
        assert!(matches!(parse(b"", &own(), LOOP_ID), Err(MailError::Unparseable(_))));
        assert!(matches!(parse(b"\r\n\r\n", &own(), LOOP_ID), Err(MailError::Unparseable(_))));
        assert!(matches!(parse(b"hello world, no headers", &own(), LOOP_ID), Err(MailError::Unparseable(_))));
        assert!(matches!(parse(b"\x00\x01\xff binary", &own(), LOOP_ID), Err(MailError::Unparseable(_))));
        assert_eq!(parse(b"Subject: nobody\n\nx\n", &own(), LOOP_ID), Err(MailError::NoSender));
        assert_eq!(parse(b"From: undisclosed-recipients:;\n\nx\n", &own(), LOOP_ID), Err(MailError::NoSender));
        assert_eq!(MailError::NoSender.to_string(), "mail has no sender address");
        assert!(MailError::Unparseable("x".into()).to_string().contains("unparseable"));
    }

    #[test]
    fn unclosed_boundary_still_yields_text() {
        let raw = b"From: a@example.com\nSubject: broken\nContent-Type: multipart/mixed; boundary=\"never\"\n\n\
            --never\nContent-Type: text/plain\n\nStill readable.\nSecond line.\n";
        assert!(parse_ok(raw).text.contains("Still readable.\nSecond line."));
        let no_parts = b"From: a@example.com\nContent-Type: multipart/mixed; boundary=\"gone\"\n\nJust text.\n";
        let mail = parse(no_parts, &own(), LOOP_ID).unwrap();
        assert_eq!(mail.text, "Just text.");
        assert!(mail.attachments.is_empty(), "{:?}", mail.attachments);
        let wrong = b"From: a@example.com\r\nContent-Type: multipart/alternative; boundary=\"declared\"\r\n\r\n\
            --actual\r\nContent-Type: text/plain\r\n\r\nThe printer is on fire.\r\n--actual--\r\n";
        let mail = parse(wrong, &own(), LOOP_ID).unwrap();
        assert!(mail.text.contains("The printer is on fire."), "{:?}", mail.text);
    }

    /// Deterministic pseudo-random bytes, so a failure can be reproduced.
    fn noise(seed: u64, len: usize) -> Vec<u8> {
        let mut state = seed;
        (0..len)
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (state >> 33) as u8
            })
            .collect()
    }

    #[test]
    fn never_panics_on_garbage() {
        for seed in 0..300 {
            let _ = parse(&noise(seed, (seed as usize * 37) % 2000), &own(), LOOP_ID);
        }
        let multipart = b"From: a@example.com\nSubject: =?UTF-8?B?w4Ry?=\nContent-Type: multipart/mixed; boundary=q\n\n\
            --q\nContent-Type: text/plain; charset=iso-2022-jp\nContent-Transfer-Encoding: quoted-printable\n\n=1B$B%O=\n\
            --q\nContent-Type: message/rfc822\n\nFrom: b@x\nContent-Type: multipart/alternative; boundary=r\n\n--r\n\
            --q\nContent-Disposition: attachment; filename*0*=UTF-8''%E2; filename*1=x\n\
            Content-Transfer-Encoding: base64\n\n!!!=\n--q--\n";
        for end in 0..=multipart.len() {
            let _ = parse(&multipart[..end], &own(), LOOP_ID);
        }
        let mut huge = b"From: a@example.com\nSubject: ".to_vec();
        huge.extend(std::iter::repeat_n(b'x', 2_000_000));
        huge.extend_from_slice(b"\nX-Long: ");
        huge.extend(std::iter::repeat_n(b'y', 500_000));
        huge.extend_from_slice(b"\n\nbody\n");
        assert_eq!(parse_ok(&huge).text, "body");
    }

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
