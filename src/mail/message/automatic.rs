//! Mail that must not be answered or stored as someone's words: auto-replies and bulk mail
//! (by their headers, by their sender, or by an out-of-office subject in English, German,
//! French, Spanish or Russian), delivery and read reports (`multipart/report`), and our own
//! mail coming back — by our loop header or, inside a bounce, by the loop header or
//! Message-ID of the notification it returns. Such mail never becomes a comment, so it never
//! notifies anyone.

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};

use super::{Address, LOOP_HEADER, collapse_whitespace, header_values};
use crate::mail::message_ids::{is_digest_message_id, item_of_message_id};

/// Header values quoted in reasons are cut to this many characters to keep them short.
const MAX_REASON_VALUE_CHARS: usize = 60;

/// What identifies our own mail: our addresses (lower case) and the loop header's value
/// (our address, whose domain is also the domain of our Message-IDs).
pub struct Ours<'a> {
    pub addresses: &'a [String],
    pub loop_id: &'a str,
}

/// The first rule that marks this mail as machine-generated or as our own mail coming back.
/// `text` is the readable body, where plain-text bounces quote the original's headers.
pub fn reason(message: &Message<'_>, from: &Address, text: &str, ours: &Ours<'_>) -> Option<String> {
    let header_rules: [fn(&Message<'_>) -> Option<String>; 6] =
        [auto_submitted, autoreply_headers, precedence, auto_response_suppress, empty_return_path, report];
    header_rules
        .iter()
        .find_map(|rule| rule(message))
        .or_else(|| automatic_sender(from, ours.addresses))
        .or_else(|| {
            header_values(message, LOOP_HEADER)
                .iter()
                .any(|value| value == ours.loop_id.trim())
                .then(|| format!("{LOOP_HEADER}: sent by this installation"))
        })
        .or_else(|| out_of_office_subject(message.subject().unwrap_or_default()))
        .or_else(|| returned_original(message, text, ours))
}

fn shorten(value: &str) -> String {
    value.chars().take(MAX_REASON_VALUE_CHARS).collect()
}
fn auto_submitted(message: &Message<'_>) -> Option<String> {
    header_values(message, "Auto-Submitted")
        .into_iter()
        .find(|value| !value.split([';', '(', ' ']).next().unwrap_or_default().eq_ignore_ascii_case("no"))
        .map(|value| format!("Auto-Submitted: {}", shorten(&value)))
}

fn autoreply_headers(message: &Message<'_>) -> Option<String> {
    ["X-Autoreply", "X-Autorespond"]
        .into_iter()
        .find(|name| !header_values(message, name).is_empty())
        .map(|name| format!("{name} header present"))
}

fn precedence(message: &Message<'_>) -> Option<String> {
    header_values(message, "Precedence")
        .into_iter()
        .find(|value| ["bulk", "junk", "list", "auto_reply"].iter().any(|p| value.eq_ignore_ascii_case(p)))
        .map(|value| format!("Precedence: {}", value.to_ascii_lowercase()))
}

fn auto_response_suppress(message: &Message<'_>) -> Option<String> {
    header_values(message, "X-Auto-Response-Suppress").into_iter().find_map(|value| {
        value
            .split([',', ' ', ';'])
            .find(|token| ["all", "dr", "autoreply", "oof"].iter().any(|t| token.eq_ignore_ascii_case(t)))
            .map(|token| format!("X-Auto-Response-Suppress: {token}"))
    })
}

fn empty_return_path(message: &Message<'_>) -> Option<String> {
    header_values(message, "Return-Path")
        .iter()
        .any(|value| value.replace(' ', "") == "<>")
        .then(|| "Return-Path: <> (bounce)".to_string())
}

fn automatic_sender(from: &Address, own_addresses: &[String]) -> Option<String> {
    let local = from.email.rsplit_once('@').map_or(from.email.as_str(), |(local, _)| local);
    if local == "mailer-daemon"
        || local == "postmaster"
        || local.starts_with("noreply")
        || local.starts_with("no-reply")
    {
        return Some(format!("From: {} is an automatic sender", shorten(&from.email)));
    }
    own_addresses
        .iter()
        .any(|own| own.trim().eq_ignore_ascii_case(&from.email))
        .then(|| format!("From: {} is our own address", shorten(&from.email)))
}

/// Delivery status notifications and read receipts (RFC 6522), whoever sends them.
fn report(message: &Message<'_>) -> Option<String> {
    let content_type = message.root_part().content_type()?;
    let is_report = content_type.ctype().eq_ignore_ascii_case("multipart")
        && content_type.subtype().is_some_and(|subtype| subtype.eq_ignore_ascii_case("report"));
    is_report.then(|| match content_type.attribute("report-type") {
        Some(kind) => format!("multipart/report ({}): a delivery or read report", shorten(kind)),
        None => "multipart/report: a delivery or read report".to_string(),
    })
}

/// Subjects that out-of-office replies start with, lower case: English, German, French,
/// Spanish, Russian. Each must be followed by ":", a closing bracket or the end, so that
/// "Absence de papier" is not one.
const OUT_OF_OFFICE: &[&str] = &[
    "out of office",
    "out of the office",
    "out of office autoreply",
    "automatic reply",
    "auto reply",
    "auto-reply",
    "autoreply",
    "auto response",
    "auto-response",
    "autoresponse",
    "away from the office",
    "vacation reply",
    "on vacation",
    "abwesenheitsnotiz",
    "automatische antwort",
    "abwesend",
    "abwesenheit",
    "nicht im büro",
    "ich bin nicht im büro",
    "außer haus",
    "ausser haus",
    "réponse automatique",
    "reponse automatique",
    "absence du bureau",
    "absent du bureau",
    "message d'absence",
    "absence",
    "absent",
    "je suis absent",
    "je suis absente",
    "respuesta automática",
    "respuesta automatica",
    "fuera de la oficina",
    "fuera de oficina",
    "ausente",
    "ausencia",
    "estoy fuera de la oficina",
    "автоответ",
    "автоматический ответ",
    "автоответчик",
    "нет на месте",
    "вне офиса",
    "отсутствую",
    "в отпуске",
];

fn out_of_office_subject(subject: &str) -> Option<String> {
    let subject = collapse_whitespace(subject).to_lowercase();
    let subject = subject.trim_start_matches(['[', '(', ' ']);
    OUT_OF_OFFICE
        .iter()
        .any(|phrase| {
            subject.strip_prefix(phrase).is_some_and(|rest| {
                let rest = rest.trim_start();
                rest.is_empty() || rest.starts_with([':', '：', ']', ')'])
            })
        })
        .then(|| format!("out-of-office subject: {}", shorten(subject)))
}

/// A bounce that returns one of our notifications: an attached original (or its headers)
/// carrying our loop header or one of our Message-IDs, or those headers quoted in the text.
fn returned_original(message: &Message<'_>, text: &str, ours: &Ours<'_>) -> Option<String> {
    let domain = ours.loop_id.rsplit_once('@').map(|(_, domain)| domain);
    let is_ours = |name: &str, value: &str| {
        let value = value.trim();
        if name.eq_ignore_ascii_case(LOOP_HEADER) {
            return value.eq_ignore_ascii_case(ours.loop_id.trim());
        }
        let id = value.trim_matches(['<', '>']);
        name.eq_ignore_ascii_case("Message-ID")
            && domain.is_some_and(|domain| {
                id.rsplit_once('@').is_some_and(|(_, theirs)| theirs.eq_ignore_ascii_case(domain))
            })
            && (item_of_message_id(id).is_some() || is_digest_message_id(id))
    };
    let found = |what: &str| Some(format!("a returned copy of our own mail ({what})"));
    let our_header = |original: &Message<'_>| {
        [LOOP_HEADER, "Message-ID"]
            .into_iter()
            .find(|name| header_values(original, name).iter().any(|value| is_ours(name, value)))
    };
    for part in &message.parts {
        let carried = match &part.body {
            PartType::Message(original) => our_header(original),
            _ if part.content_type().is_some_and(|content_type| {
                content_type.subtype().is_some_and(|subtype| subtype.eq_ignore_ascii_case("rfc822-headers"))
            }) =>
            {
                MessageParser::default().parse_headers(part.contents()).and_then(|original| our_header(&original))
            }
            _ => None,
        };
        if let Some(name) = carried {
            return found(&format!("its attached original has our {name}"));
        }
    }
    text.lines().find_map(|line| {
        let (name, value) = line.trim_start_matches(['>', ' ']).split_once(':')?;
        is_ours(name.trim(), value).then(|| found(&format!("it quotes our {}", name.trim())))?
    })
}

#[cfg(test)]
mod tests {
    use crate::mail::message::parse;
    use crate::mail::message::test_parse::{own, parse_ok};

    fn with_headers(extra: &str) -> Vec<u8> {
        format!(
            "From: Alice <alice@example.com>\r\nTo: baton@example.org\r\nSubject: Hi\r\n\
             Message-ID: <m1@example.com>\r\n{extra}\r\nBody\r\n"
        )
        .into_bytes()
    }

    #[test]
    fn automatic_rules() {
        let cases: &[(&str, &str)] = &[
            ("Auto-Submitted: auto-replied\r\n", "Auto-Submitted: auto-replied"),
            ("auto-submitted: Auto-Generated; owner-email=x@y\r\n", "Auto-Submitted: Auto-Generated"),
            ("X-Autoreply: yes\r\n", "X-Autoreply"),
            ("X-Autorespond: Out of office\r\n", "X-Autorespond"),
            ("Precedence: bulk\r\n", "Precedence: bulk"),
            ("Precedence: JUNK\r\n", "Precedence: junk"),
            ("Precedence: list\r\n", "Precedence: list"),
            ("Precedence: auto_reply\r\n", "Precedence: auto_reply"),
            ("X-Auto-Response-Suppress: All\r\n", "X-Auto-Response-Suppress: All"),
            ("X-Auto-Response-Suppress: RN, NRN, OOF\r\n", "X-Auto-Response-Suppress: OOF"),
            ("X-Auto-Response-Suppress: DR\r\n", "X-Auto-Response-Suppress: DR"),
            ("X-Auto-Response-Suppress: AutoReply\r\n", "X-Auto-Response-Suppress: AutoReply"),
            ("Return-Path: <>\r\n", "Return-Path: <>"),
            ("Return-Path: < >\r\n", "Return-Path: <>"),
            ("X-Baton-Loop: loop-4711\r\n", "X-Baton-Loop"),
            ("x-baton-loop:  loop-4711 \r\n", "X-Baton-Loop"),
        ];
        for (extra, expected) in cases {
            let reason = parse_ok(&with_headers(extra)).automatic.unwrap_or_else(|| panic!("{extra} not flagged"));
            assert!(reason.contains(expected), "{extra}: {reason}");
        }
    }

    #[test]
    fn automatic_senders() {
        for from in [
            "MAILER-DAEMON@mx.example.com",
            "postmaster@example.com",
            "noreply@shop.example",
            "No-Reply-Billing@shop.example",
            "noreply.alerts@example.com",
            "Baton@Example.org",
        ] {
            let raw = format!("From: {from}\nSubject: x\n\nbody\n");
            let reason = parse_ok(raw.as_bytes()).automatic.unwrap_or_else(|| panic!("{from} not flagged"));
            assert!(reason.starts_with("From: "), "{reason}");
        }
    }

    #[test]
    fn normal_mail_is_not_automatic() {
        for extra in [
            "",
            "Auto-Submitted: no\r\n",
            "Auto-Submitted: No (manual)\r\n",
            "Precedence: first-class\r\n",
            "X-Auto-Response-Suppress: RN, NRN\r\n",
            "Return-Path: <alice@example.com>\r\n",
            "X-Baton-Loop: other-installation\r\n",
        ] {
            assert_eq!(parse_ok(&with_headers(extra)).automatic, None, "{extra}");
        }
        assert_eq!(parse_ok(b"From: reply@example.com\nSubject: x\n\ny\n").automatic, None);
    }

    fn reason_with_our_address(raw: &str) -> Option<String> {
        parse(raw.as_bytes(), &own(), "baton@example.org").expect("mail parses").automatic
    }

    #[test]
    fn delivery_and_read_reports_are_automatic_whoever_sends_them() {
        let dsn = "From: Mail Delivery System <bounces@relay.example>\r\nTo: someone@example.com\r\n\
            Subject: Undelivered Mail\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n\
            --b\r\nContent-Type: text/plain\r\n\r\nCould not deliver.\r\n\
            --b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; relay.example\r\n\r\n--b--\r\n";
        let reason = reason_with_our_address(dsn).expect("a report");
        assert!(reason.contains("multipart/report (delivery-status)"), "{reason}");
        let read_receipt = dsn.replace("delivery-status", "disposition-notification");
        assert!(reason_with_our_address(&read_receipt).unwrap().contains("disposition-notification"));
    }

    #[test]
    fn a_bounce_returning_our_mail_is_automatic() {
        let bounce = |attached_type: &str, original: &str| {
            format!(
                "From: postmeister@relay.example\r\nTo: baton@example.org\r\nSubject: Returned\r\n\
                 Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n\
                 Your mail could not be delivered.\r\n--b\r\nContent-Type: {attached_type}\r\n\r\n{original}\r\n--b--\r\n"
            )
        };
        let our_loop = "From: baton@example.org\r\nX-Baton-Loop: baton@example.org\r\nSubject: [#5] x\r\n\r\nbody";
        let reason = reason_with_our_address(&bounce("message/rfc822", our_loop)).expect("our loop header");
        assert!(reason.contains("attached original has our X-Baton-Loop"), "{reason}");
        let our_id = "From: x@example.org\r\nMessage-ID: <baton.12.5@example.org>\r\nSubject: [#5] x\r\n\r\n";
        let reason = reason_with_our_address(&bounce("text/rfc822-headers", our_id)).expect("our Message-ID");
        assert!(reason.contains("attached original has our Message-ID"), "{reason}");
        let quoted = "From: postmeister@relay.example\r\nSubject: failure notice\r\n\r\nSorry.\r\n\r\n\
            --- Below this line is a copy of the message.\r\n\r\nX-Baton-Loop: baton@example.org\r\nSubject: [#5] x\r\n";
        assert!(reason_with_our_address(quoted).unwrap().contains("it quotes our X-Baton-Loop"));
        let foreign_id = "From: x@example.org\r\nMessage-ID: <baton.12.5@elsewhere.example>\r\n\r\n";
        assert_eq!(reason_with_our_address(&bounce("message/rfc822", foreign_id)), None, "another installation's");
    }

    #[test]
    fn out_of_office_subjects_in_five_languages_are_automatic() {
        for subject in [
            "Out of Office: [#5] Printer",
            "Automatic reply: Re: [#5] Printer",
            "Out of Office AutoReply: x",
            "[Auto-Reply] Printer",
            "Abwesenheitsnotiz: [#5] Drucker",
            "Automatische Antwort: Drucker",
            "Réponse automatique : Imprimante",
            "Absence du bureau",
            "Respuesta automática: Impresora",
            "Fuera de la oficina: x",
            "Автоответ: [#5] Принтер",
            "Автоматический ответ: Принтер",
        ] {
            let raw = format!("From: someone@example.com\r\nSubject: {subject}\r\n\r\nI am away.\r\n");
            let reason = parse_ok(raw.as_bytes()).automatic.unwrap_or_else(|| panic!("{subject} not flagged"));
            assert!(reason.starts_with("out-of-office subject"), "{reason}");
        }
        for subject in [
            "Absence de papier dans l'imprimante",
            "Out of paper",
            "Re: out of office hours support",
            "Abwesenheit von Toner",
        ] {
            let raw = format!("From: someone@example.com\r\nSubject: {subject}\r\n\r\nHelp.\r\n");
            assert_eq!(parse_ok(raw.as_bytes()).automatic, None, "{subject}");
        }
    }
}
