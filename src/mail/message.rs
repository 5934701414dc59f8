//! Inbound mail: parsing raw RFC 5322 bytes into an [`InboundMail`] and classifying it.
//!
//! The tracker turns new mail into items and replies into comments. This module does the pure
//! part of that: MIME decoding (delegated to `mail-parser`, which also handles RFC 2047/2231
//! encoded words and charsets; 8-bit header lines without them are read by `clean`), picking a
//! readable text body without control characters, collecting attachments under safe file
//! names, the keys that tell one mail from another, what the sender's servers and ours said
//! about it (`Authentication-Results`, the envelope recipients), whether it must not be
//! answered (`automatic`); the text helpers for subjects and quoted replies are in `reply`.
//! No I/O happens here.

use std::fmt;

use mail_parser::{Addr, HeaderValue, Message, MessageParser, MessagePart, MimeHeaders, PartType};
use sha2::{Digest, Sha256};

use crate::mail::clean;
use crate::model::html::html_to_text;

mod attachment;
mod automatic;
pub mod reply;
#[cfg(test)]
mod test_parse;

use attachment::attachments;

/// Header we put on every mail we send, carrying this installation's loop id.
pub const LOOP_HEADER: &str = "X-Baton-Loop";

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

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::attachment::{MAX_FILE_NAME_BYTES, safe_file_name};
    use super::*;

    use super::test_parse::{LOOP_ID, own, parse_ok};

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
}
