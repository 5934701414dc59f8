//! The reply address of a notification: our address with `+TOKEN` before the @, one per
//! recipient and item, e.g. `tracker+2a-9ix-g4k-mzxw6ytboi4dqmrz@example.com`. The token
//! names the user, the item and the last day it is accepted, and carries an HMAC-SHA256 of
//! them (80 bits, written in base32) under a key kept in the database, so any node verifies
//! what any node signed and nobody without the key can make one. A reply through it is
//! stored as that user's comment on that item — who sent it does not matter, as with the
//! reply addresses of Gitea or GitHub. Only letters, digits and "-": mail servers that
//! lower-case local parts change nothing, and the local part stays within 64 characters.

use chrono::NaiveDate;
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use crate::db::DbConnection;
use crate::db::schema::signing_keys;
use crate::error::{Error, Result};
use crate::model::ids::{ItemId, UserId};

/// The row of `signing_keys` that holds the key (made by the migration that added it).
const PURPOSE: &str = "mail_reply";
/// What the HMAC covers besides the numbers, so that the key could sign other things later
/// without one signature standing for another.
const DOMAIN: &str = "baton reply address v1";
/// Bytes of the HMAC kept: 80 bits, which no one guesses by sending mail.
const MAC_BYTES: usize = 10;
const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// Why a token in a reply address is not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// Not the shape of our tokens.
    Malformed,
    /// The signature does not match: changed, or made without the key.
    Altered,
    /// Its last day has passed.
    Expired(NaiveDate),
}

impl std::fmt::Display for TokenError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenError::Malformed => write!(formatter, "the reply address is not one of ours"),
            TokenError::Altered => write!(formatter, "the reply address was altered (its signature does not match)"),
            TokenError::Expired(day) => write!(formatter, "the reply address expired after {day}"),
        }
    }
}

/// The key that signs reply addresses.
pub struct SigningKey(Vec<u8>);

impl SigningKey {
    /// The installation's key, from the database.
    pub fn load(connection: &mut DbConnection) -> Result<SigningKey> {
        let secret: Option<String> =
            signing_keys::table.find(PURPOSE).select(signing_keys::secret).first(connection).optional()?;
        let secret = secret.ok_or_else(|| {
            Error::Unavailable("the key for reply addresses is missing from signing_keys: run `baton migrate`".into())
        })?;
        let bytes = hex::decode(secret.trim())
            .map_err(|error| Error::internal("the key for reply addresses in signing_keys is not hex", error))?;
        Ok(SigningKey(bytes))
    }

    /// The token for `user` answering about `item`, accepted until the end of `last_day`.
    pub fn token(&self, user: UserId, item: ItemId, last_day: NaiveDate) -> String {
        let day = day_number(last_day);
        format!("{}-{}-{}-{}", base36(user.0), base36(item.0), base36(day), self.mac(user.0, item.0, day))
    }

    /// The user and item a token names, if it is ours, unaltered and not expired on `today`.
    pub fn verify(&self, token: &str, today: NaiveDate) -> std::result::Result<(UserId, ItemId), TokenError> {
        let token = token.to_ascii_lowercase();
        let parts: Vec<&str> = token.split('-').collect();
        let [user, item, day, mac] = parts[..] else { return Err(TokenError::Malformed) };
        let number = |text: &str| {
            text.bytes()
                .all(|byte| byte.is_ascii_alphanumeric())
                .then(|| i64::from_str_radix(text, 36).ok())
                .flatten()
                .filter(|number| *number > 0)
                .ok_or(TokenError::Malformed)
        };
        let (user, item, day) = (number(user)?, number(item)?, number(day)?);
        if mac.len() != MAC_BYTES * 8 / 5 {
            return Err(TokenError::Malformed);
        }
        if !same_text(&self.mac(user, item, day), mac) {
            return Err(TokenError::Altered);
        }
        if day < day_number(today) {
            return Err(TokenError::Expired(day_of(day)));
        }
        Ok((UserId(user), ItemId(item)))
    }

    fn mac(&self, user: i64, item: i64, day: i64) -> String {
        let tag = hmac_sha256(&self.0, format!("{DOMAIN}:{user}:{item}:{day}").as_bytes());
        base32(&tag[..MAC_BYTES])
    }
}

/// `address` (ours) with the token before the @.
pub fn address_with(address: &str, token: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) => format!("{local}+{token}@{domain}"),
        None => format!("{address}+{token}"),
    }
}

/// The token of `recipient` when it is `address` (ours) with "+TOKEN", in any case.
pub fn token_in<'a>(recipient: &'a str, address: &str) -> Option<&'a str> {
    let (local, domain) = address.split_once('@')?;
    let (their_local, their_domain) = recipient.trim().rsplit_once('@')?;
    if !their_domain.eq_ignore_ascii_case(domain) {
        return None;
    }
    let prefix = their_local.get(..local.len() + 1)?;
    let is_ours = prefix[..local.len()].eq_ignore_ascii_case(local) && prefix.ends_with('+');
    is_ours.then(|| &their_local[local.len() + 1..]).filter(|token| !token.is_empty())
}

/// HMAC-SHA256 (RFC 2104) on sha2, which is in the tree already: eight lines against a
/// new crate.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > block.len() {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let inner = Sha256::new().chain_update(block.map(|byte| byte ^ 0x36)).chain_update(message).finalize();
    Sha256::new().chain_update(block.map(|byte| byte ^ 0x5c)).chain_update(inner).finalize().into()
}

/// Compares in time independent of where the texts differ, so the time a refusal takes
/// tells nothing about how much of a forged signature was right.
fn same_text(expected: &str, offered: &str) -> bool {
    expected.len() == offered.len()
        && expected.bytes().zip(offered.bytes()).fold(0u8, |difference, (a, b)| difference | (a ^ b)) == 0
}

fn base32(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let (mut buffer, mut bits) = (0u32, 0);
    for byte in bytes {
        buffer = buffer << 8 | u32::from(*byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            text.push(char::from(BASE32[(buffer >> bits & 31) as usize]));
        }
    }
    if bits > 0 {
        text.push(char::from(BASE32[(buffer << (5 - bits) & 31) as usize]));
    }
    text
}

fn base36(mut number: i64) -> String {
    let mut digits = Vec::new();
    loop {
        digits.push(char::from(b"0123456789abcdefghijklmnopqrstuvwxyz"[(number % 36) as usize]));
        number /= 36;
        if number == 0 {
            break;
        }
    }
    digits.iter().rev().collect()
}

fn day_number(day: NaiveDate) -> i64 {
    (day - NaiveDate::default()).num_days()
}

fn day_of(number: i64) -> NaiveDate {
    NaiveDate::default() + chrono::Duration::days(number)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey(vec![7; 32])
    }

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        let case_1 = hmac_sha256(&[0x0b; 20], b"Hi There");
        assert_eq!(hex::encode(case_1), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
        let case_6 = hmac_sha256(&[0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First");
        assert_eq!(hex::encode(case_6), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    }

    #[test]
    fn a_token_names_its_user_and_item_until_its_last_day_in_any_case() {
        let token = key().token(UserId(42), ItemId(1337), day("2027-03-01"));
        assert!(token.bytes().all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-'));
        let address = address_with("tracker@example.com", &token);
        assert!(address.split('@').next().unwrap().len() <= 64, "{address}");
        let shouted = address.to_ascii_uppercase();
        let found = token_in(&shouted, "tracker@example.com").unwrap();
        assert_eq!(key().verify(found, day("2027-03-01")), Ok((UserId(42), ItemId(1337))));
        assert_eq!(key().verify(&token, day("2027-03-02")), Err(TokenError::Expired(day("2027-03-01"))));
    }

    #[test]
    fn an_altered_or_foreign_token_is_refused() {
        let token = key().token(UserId(42), ItemId(1337), day("2027-03-01"));
        let other_item = token.replacen(&base36(1337), &base36(1338), 1);
        assert_eq!(key().verify(&other_item, day("2027-01-01")), Err(TokenError::Altered));
        assert_eq!(SigningKey(vec![8; 32]).verify(&token, day("2027-01-01")), Err(TokenError::Altered));
        let mut flipped = token.clone();
        let last = flipped.pop().unwrap();
        flipped.push(if last == 'a' { 'b' } else { 'a' });
        assert_eq!(key().verify(&flipped, day("2027-01-01")), Err(TokenError::Altered));
        for malformed in
            ["", "abc", "1-2-3", "1-2-3-4-5", "0-2-3-aaaaaaaaaaaaaaaa", "+1-2-3-aaaaaaaaaaaaaaaa", "1-2-3-aa"]
        {
            assert_eq!(key().verify(malformed, day("2027-01-01")), Err(TokenError::Malformed), "{malformed}");
        }
    }

    #[test]
    fn only_our_address_with_a_token_carries_one() {
        assert_eq!(token_in("tracker+abc@Example.com", "tracker@example.com"), Some("abc"));
        assert_eq!(token_in("tracker@example.com", "tracker@example.com"), None);
        assert_eq!(token_in("tracker+@example.com", "tracker@example.com"), None);
        assert_eq!(token_in("tracker+abc@example.org", "tracker@example.com"), None);
        assert_eq!(token_in("trackers+abc@example.com", "tracker@example.com"), None);
        assert_eq!(token_in("x", "tracker@example.com"), None);
        assert_eq!(token_in("tra@example.com", "tracker@example.com"), None);
    }
}
