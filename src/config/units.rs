//! Sizes and durations as people write them in the settings.

use serde::{Deserialize, Deserializer};

/// Parses `"25MiB"`, `"512KB"`, `"1048576"`.
pub fn parse_byte_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split_at = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, unit) = text.split_at(split_at);
    let number: u64 = digits.parse().map_err(|_| format!("{text:?} is not a size: write e.g. \"25MiB\""))?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "kib" => 1024,
        "m" | "mb" => 1000 * 1000,
        "mib" => 1024 * 1024,
        "g" | "gb" => 1000 * 1000 * 1000,
        "gib" => 1024 * 1024 * 1024,
        _ => return Err(format!("{text:?} has an unknown unit: use B, KB, KiB, MB, MiB, GB or GiB")),
    };
    number.checked_mul(multiplier).ok_or_else(|| format!("{text:?} is too large"))
}

pub(super) fn deserialize_byte_size<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum SizeText {
        Number(u64),
        Text(String),
    }
    match SizeText::deserialize(deserializer)? {
        SizeText::Number(number) => Ok(number),
        SizeText::Text(text) => parse_byte_size(&text).map_err(serde::de::Error::custom),
    }
}

pub(super) fn serialize_byte_size<S: serde::Serializer>(size: &u64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(*size)
}

/// Durations written as `"200ms"`, `"2s"`, `"5m"`, `"14d"`.
pub mod duration_text {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&humantime::format_duration(*duration).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(deserializer)?;
        humantime::parse_duration(&text).map_err(|error| {
            serde::de::Error::custom(format!(
                "{text:?} is not a duration ({error}): write e.g. \"2s\", \"200ms\", \"5m\""
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::parse_byte_size;

    #[test]
    fn byte_sizes_parse_with_units() {
        assert_eq!(parse_byte_size("10").unwrap(), 10);
        assert_eq!(parse_byte_size("1KiB").unwrap(), 1024);
        assert_eq!(parse_byte_size("3 MB").unwrap(), 3_000_000);
        assert!(parse_byte_size("3 parsecs").is_err());
        assert!(parse_byte_size("MiB").is_err());
    }
}
