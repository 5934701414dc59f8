//! Our Message-IDs: a notification's names its outbox row and its item, every notification
//! of an item belongs to the item's thread, and a digest's names no item. Replies are matched
//! to their item by them (`sender`), and our own mail is recognised by them (`automatic`). A
//! notification of a private note says so in its Message-ID's right-hand part, which no reader
//! of the left-hand part minds, so that a reply to it is a private note too.

use crate::model::ids::ItemId;

/// The Message-ID of a notification (without angle brackets).
pub fn message_id(outbox_id: i64, item_id: ItemId, domain: &str, private_note: bool) -> String {
    let private = if private_note { PRIVATE_NOTE } else { "" };
    format!("baton.{outbox_id}.{item_id}@{private}{domain}")
}

/// What starts the right-hand part of a private note's notification.
const PRIVATE_NOTE: &str = "private-note.";

/// Whether a Message-ID is one of our notifications of a private note.
pub fn is_private_note(id: &str) -> bool {
    id.split_once('@').is_some_and(|(local, right)| local.starts_with("baton.") && right.starts_with(PRIVATE_NOTE))
}

/// The thread every notification of an item belongs to.
pub fn thread_id(item_id: ItemId, domain: &str) -> String {
    format!("baton.item.{item_id}@{domain}")
}

/// The Message-ID of a digest (of due items, or of the day's news): it names no item.
pub fn digest_message_id(outbox_id: i64, domain: &str) -> String {
    format!("baton.digest.{outbox_id}@{domain}")
}

/// Whether a Message-ID is one of our digests'.
pub fn is_digest_message_id(id: &str) -> bool {
    id.split_once('@').is_some_and(|(local, _)| local.starts_with("baton.digest."))
}

/// The item a Message-ID of ours names (a notification, or an item's thread).
pub fn item_of_message_id(id: &str) -> Option<i64> {
    let (local, _) = id.split_once('@')?;
    let mut parts = local.strip_prefix("baton.")?.split('.');
    let (first, second) = (parts.next()?, parts.next());
    if parts.next().is_some() {
        return None;
    }
    match (first, second) {
        ("item", Some(item)) => item.parse().ok(),
        (outbox, Some(item)) if outbox.parse::<i64>().is_ok() => item.parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_message_ids_name_their_item() {
        assert_eq!(item_of_message_id(&message_id(7, ItemId(42), "example.com", false)), Some(42));
        let private = message_id(7, ItemId(42), "example.com", true);
        assert_eq!((item_of_message_id(&private), is_private_note(&private)), (Some(42), true));
        assert!(!is_private_note(&message_id(7, ItemId(42), "example.com", false)));
        assert!(!is_private_note("someone@private-note.example.com"));
        assert_eq!(item_of_message_id(&thread_id(ItemId(42), "example.com")), Some(42));
        assert_eq!(item_of_message_id(&digest_message_id(42, "example.com")), None);
        assert!(is_digest_message_id(&digest_message_id(42, "example.com")));
        assert!(!is_digest_message_id(&message_id(7, ItemId(42), "example.com", false)));
        for foreign in ["abc@example.com", "baton.x.42@example.com", "baton.1.2.3@example.com", "baton.item@x", ""] {
            assert_eq!(item_of_message_id(foreign), None, "{foreign}");
        }
    }
}
