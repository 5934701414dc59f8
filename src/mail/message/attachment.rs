//! The attachments of an inbound mail, under file names that are safe to store and show.

use std::collections::HashSet;

use mail_parser::{Message, MessagePart, MimeHeaders, PartType};

use super::MailAttachment;

/// Longest file name most file systems accept, in bytes.
pub(super) const MAX_FILE_NAME_BYTES: usize = 255;

pub(super) fn attachments(message: &Message<'_>, body_id: Option<u32>) -> Vec<MailAttachment> {
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
pub(super) fn safe_file_name(name: &str) -> String {
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
