//! Values that break things: NUL, invalid UTF-8, control and odd Unicode characters, numbers
//! past every integer type, over-long text, impossible dates, plain random bytes.

use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;

const NUMBERS: &[&str] = &[
    "-1",
    "0",
    "2147483648",
    "-2147483649",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551616",
    "99999999999999999999999999",
    "1e400",
    "-0",
    "1.5",
    "NaN",
    "0x10",
];

/// Numbers as JSON writes them, past every integer type and float range.
const JSON_NUMBERS: &[&str] = &[
    "-1",
    "0",
    "2147483648",
    "-2147483649",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551616",
    "1e400",
    "-0",
    "1.5",
];

const ODD_TEXT: &[&str] = &[
    "\u{202e}txt.exe",
    "😀",
    "e\u{301}\u{301}\u{301}",
    "\u{feff}",
    "\u{10ffff}",
    "\u{fffd}",
    "ＡＢＣ",
    "İı",
    "' OR 1=1 --",
    "%",
    "_",
    "\\",
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "{{7*7}}",
    "%s%n",
    "\r\nX-Injected: 1",
    " ",
    "",
    "+10000-01-01",
    "-0001-01-01",
    "0000-00-00",
    "2026-02-30",
    "262143-12-31",
    "-262143-01-01",
];

/// Text for a form field, a query parameter or a path segment, as raw bytes: they are
/// percent-encoded byte by byte, so invalid UTF-8 arrives as it is.
pub fn hostile_bytes(rng: &mut StdRng) -> Vec<u8> {
    match rng.random_range(0..11) {
        0 => b"\0".to_vec(),
        1 => [random_word(rng), b"\0".to_vec(), random_word(rng)].concat(),
        2 => random_bytes(rng, 40),
        3 => invalid_utf8(rng),
        4 => b"x".repeat(*[256, 1_001, 5_000].choose(rng).unwrap_or(&256)),
        5 => NUMBERS.choose(rng).unwrap_or(&"0").as_bytes().to_vec(),
        6 => ODD_TEXT.choose(rng).unwrap_or(&"").as_bytes().to_vec(),
        7 => (0..rng.random_range(1..6)).map(|_| rng.random_range(1..0x20u8)).chain([0x7f]).collect(),
        8 => [b"FUZ".to_vec(), b"\0".to_vec()].concat(),
        9 => random_unicode(rng, 30).into_bytes(),
        _ => [random_word(rng), invalid_utf8(rng), b"\0".to_vec()].concat(),
    }
}

/// A JSON value (as raw text) that a schema does not expect: strings with NUL, lone
/// surrogates or raw invalid UTF-8, numbers past i64, other types, nesting past any limit.
pub fn hostile_json(rng: &mut StdRng) -> Vec<u8> {
    match rng.random_range(0..9) {
        0 => json_string(&hostile_bytes(rng)),
        1 => br#""a\u0000b""#.to_vec(),
        2 => [br#""\ud800"#.as_slice(), br#"x""#].concat(),
        3 => b"\"\xff\xfe\xc0\xaf\"".to_vec(),
        4 => JSON_NUMBERS.choose(rng).unwrap_or(&"0").as_bytes().to_vec(),
        5 => ["true", "false", "null", "[]", "{}", "[1,2]", r#"{"a":1}"#, "\"\""]
            .choose(rng)
            .unwrap_or(&"null")
            .as_bytes()
            .to_vec(),
        6 => ["[".repeat(300), "]".repeat(300)].concat().into_bytes(),
        7 => json_string(&b"y".repeat(*[256, 70_000, 1_048_577].choose(rng).unwrap_or(&256))),
        _ => json_string(random_unicode(rng, 50).as_bytes()),
    }
}

/// A whole body that is not what the route reads, with the content type it claims.
pub fn garbage_body(rng: &mut StdRng) -> (Vec<u8>, Option<&'static str>) {
    let body = match rng.random_range(0..9) {
        0 => random_bytes(rng, 200),
        1 => Vec::new(),
        2 => br#"{"name": "#.to_vec(),
        3 => b"null".to_vec(),
        4 => br#"{"name": "a", "name": "b", "title": "c", "title": "d"}"#.to_vec(),
        5 => ["[".repeat(20_000), "]".repeat(20_000)].concat().into_bytes(),
        6 => b"\xef\xbb\xbf{}".to_vec(),
        7 => b"title=a%00b&name=%ff&body=\0".to_vec(),
        _ => br#"{} trailing"#.to_vec(),
    };
    let content_type = *[
        Some("application/json"),
        Some("application/json; charset=latin1"),
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data"),
        Some("multipart/form-data; boundary=fuzz"),
        None,
    ]
    .choose(rng)
    .unwrap_or(&None);
    (body, content_type)
}

/// A JSON string of the bytes: escaped where JSON needs it (NUL and the other control
/// characters as `\u00XX`), invalid UTF-8 left raw.
pub fn json_string(bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![b'"'];
    for chunk in bytes.utf8_chunks() {
        for character in chunk.valid().chars() {
            match character {
                '"' => out.extend_from_slice(b"\\\""),
                '\\' => out.extend_from_slice(b"\\\\"),
                c if c.is_control() && (c as u32) < 0x20 => {
                    out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes())
                }
                c => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
            }
        }
        out.extend_from_slice(chunk.invalid());
    }
    out.push(b'"');
    out
}

/// Every byte but the unreserved ones as `%XX`, for paths, query strings and forms.
pub fn percent_encoded(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (*byte as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

fn random_word(rng: &mut StdRng) -> Vec<u8> {
    (0..rng.random_range(1..8)).map(|_| rng.random_range(b'a'..=b'z')).collect()
}

fn random_bytes(rng: &mut StdRng, most: usize) -> Vec<u8> {
    (0..rng.random_range(1..=most)).map(|_| rng.random::<u8>()).collect()
}

fn invalid_utf8(rng: &mut StdRng) -> Vec<u8> {
    let samples: &[&[u8]] = &[b"\xff\xfe", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82", b"\xf8\x88\x80\x80\x80", b"\x80"];
    samples.choose(rng).copied().unwrap_or(b"\xff").to_vec()
}

fn random_unicode(rng: &mut StdRng, most: usize) -> String {
    (0..rng.random_range(1..=most)).filter_map(|_| char::from_u32(rng.random_range(0..0x11_0000))).collect()
}
