//! IMAP folder names travel in modified UTF-7 (RFC 3501, 5.1.3): printable ASCII stays as
//! it is except "&", which becomes "&-"; any other run of characters becomes "&", its
//! UTF-16 in base64 with "," for "/" and no padding, and "-". So "Störungen" is
//! "St&APY-rungen". Without it a name with other letters reaches the server as raw UTF-8,
//! which a server not asked for UTF8=ACCEPT takes for another name or refuses.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/// The name as IMAP expects it.
pub fn encode(name: &str) -> String {
    let mut encoded = String::with_capacity(name.len());
    let mut pending: Vec<u16> = Vec::new();
    for character in name.chars() {
        if (' '..='~').contains(&character) {
            flush(&mut pending, &mut encoded);
            match character {
                '&' => encoded.push_str("&-"),
                _ => encoded.push(character),
            }
        } else {
            pending.extend(character.encode_utf16(&mut [0; 2]).iter());
        }
    }
    flush(&mut pending, &mut encoded);
    encoded
}

/// Writes the pending UTF-16 units as one "&…-" run.
fn flush(pending: &mut Vec<u16>, encoded: &mut String) {
    if pending.is_empty() {
        return;
    }
    let bytes: Vec<u8> = pending.drain(..).flat_map(u16::to_be_bytes).collect();
    encoded.push('&');
    for chunk in bytes.chunks(3) {
        let group =
            chunk.iter().enumerate().fold(0u32, |group, (index, byte)| group | u32::from(*byte) << (16 - 8 * index));
        for index in 0..=chunk.len() {
            encoded.push(char::from(ALPHABET[(group >> (18 - 6 * index) & 63) as usize]));
        }
    }
    encoded.push('-');
}

#[cfg(test)]
mod tests {
    use super::encode;

    #[test]
    fn names_are_encoded_as_rfc_3501_shows() {
        assert_eq!(encode("INBOX"), "INBOX");
        assert_eq!(encode("Störungen"), "St&APY-rungen");
        assert_eq!(encode("~peter/mail/台北/日本語"), "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
        assert_eq!(encode("Tom & Jerry"), "Tom &- Jerry");
        assert_eq!(encode("Отчёты"), "&BB4EQgRHBFEEQgRL-");
        assert_eq!(encode("Erledigt ✓"), "Erledigt &JxM-");
        assert_eq!(encode("😀"), "&2D3eAA-");
        assert_eq!(encode(""), "");
    }
}
