//! Whether the From address of a mail is verified: by the `Authentication-Results` header
//! (RFC 8601) that the receiving mail server wrote with one of the trusted `authserv-id`s,
//! when it says DMARC passed, or DKIM passed for the From domain or a parent of it (relaxed
//! alignment) — and DMARC only with `header.from` naming the From domain. Anyone can write such a header into a mail, so only the topmost one with a
//! trusted id counts: the receiving server adds its own above every header the mail came
//! with, and should remove any that claim its id (RFC 8601, section 5).

/// The verdict on a sender, with what it rests on (for the refusal reason).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub verified: bool,
    pub detail: String,
}

/// One method's result in a header: `dkim=pass header.d=example.com`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct MethodResult {
    method: String,
    result: String,
    /// `ptype.property` (lower case) and value.
    properties: Vec<(String, String)>,
}

impl MethodResult {
    fn property(&self, name: &str) -> Option<&str> {
        self.properties.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }
}

/// Judges the sender domain `from_domain` by the mail's `Authentication-Results` header
/// values, in header order (top first).
pub fn verify(authentication_results: &[String], from_domain: &str, trusted_ids: &[String]) -> Verdict {
    let unverified = |detail: String| Verdict { verified: false, detail };
    if trusted_ids.is_empty() {
        return unverified("no mail server is trusted to authenticate senders (mail.trusted_authserv_ids)".into());
    }
    let Some((id, results)) = authentication_results
        .iter()
        .filter_map(|value| parse(value))
        .find(|(id, _)| trusted_ids.iter().any(|trusted| trusted.eq_ignore_ascii_case(id)))
    else {
        return unverified(format!("no Authentication-Results header from {}", trusted_ids.join(" or ")));
    };
    let from_domain = from_domain.to_ascii_lowercase();
    for result in &results {
        if result.result != "pass" {
            continue;
        }
        // The header.from property names the domain DMARC judged; without it the verdict
        // could be about another From header of the same mail.
        let dmarc = result.method == "dmarc"
            && result.property("header.from").is_some_and(|domain| domain.eq_ignore_ascii_case(&from_domain));
        if dmarc {
            return Verdict { verified: true, detail: format!("{id}: dmarc=pass") };
        }
        let signer = result.property("header.d").or_else(|| result.property("header.i").map(domain_of));
        if result.method == "dkim"
            && let Some(signer) = signer.filter(|signer| aligned(signer, &from_domain))
        {
            return Verdict { verified: true, detail: format!("{id}: dkim=pass for {}", signer.to_ascii_lowercase()) };
        }
    }
    let summary: Vec<String> = results.iter().map(|result| format!("{}={}", result.method, result.result)).collect();
    let summary = if summary.is_empty() { "no results".to_string() } else { summary.join(", ") };
    unverified(format!(
        "{id} found neither dmarc=pass nor an aligned dkim=pass for {from_domain} ({summary})",
        summary = super::printable::printable(&summary)
    ))
}

/// The domain of a DKIM `header.i` identity (`user@example.com` or `@example.com`).
fn domain_of(identity: &str) -> &str {
    identity.rsplit_once('@').map_or(identity, |(_, domain)| domain)
}

/// Relaxed alignment without the public suffix list: the same domain, or one a subdomain
/// of the other, where the shorter still has a dot (never a bare top-level domain).
fn aligned(signer: &str, from_domain: &str) -> bool {
    let signer = signer.trim_end_matches('.').to_ascii_lowercase();
    let from_domain = from_domain.trim_end_matches('.');
    let below = |child: &str, parent: &str| parent.contains('.') && child.ends_with(&format!(".{parent}"));
    signer == from_domain || below(from_domain, &signer) || below(&signer, from_domain)
}

/// The authserv-id and the method results of one header value; `None` when it has no id.
fn parse(value: &str) -> Option<(String, Vec<MethodResult>)> {
    let text = without_comments(value);
    let mut statements = split_outside_quotes(&text, ';').into_iter();
    // The id may be followed by a version number: "mx.example.com 1".
    let id = statements.next()?.split_whitespace().next()?.to_string();
    let results = statements.filter_map(|statement| method_result(&statement)).collect();
    Some((id, results))
}

/// `method[/version]=result` followed by `reason=…` and `ptype.property=value` pairs.
fn method_result(statement: &str) -> Option<MethodResult> {
    let mut pairs = pairs(statement).into_iter();
    let (method, result) = pairs.next()?;
    let method = method.split('/').next().unwrap_or_default().to_ascii_lowercase();
    if method.is_empty() || method == "none" {
        return None;
    }
    let properties = pairs.filter(|(key, _)| key.contains('.')).map(|(key, value)| (key.to_ascii_lowercase(), value));
    Some(MethodResult { method, result: result.to_ascii_lowercase(), properties: properties.collect() })
}

/// The `key=value` pairs of a statement; spaces around "=" allowed, values may be quoted.
fn pairs(statement: &str) -> Vec<(String, String)> {
    let joined = statement.split('=').map(str::trim).collect::<Vec<_>>().join("=");
    split_outside_quotes(&joined, ' ')
        .into_iter()
        .filter_map(|word| {
            let (key, value) = word.split_once('=')?;
            Some((key.to_string(), value.trim_matches('"').to_string()))
        })
        .collect()
}

/// The value without `(comments)`, which may nest and hold anything; quoted text is kept.
fn without_comments(value: &str) -> String {
    let (mut kept, mut depth, mut quoted, mut escaped) = (String::with_capacity(value.len()), 0usize, false, false);
    for character in value.chars() {
        match (character, depth, quoted) {
            _ if escaped => escaped = false,
            ('\\', _, _) => escaped = true,
            ('"', 0, _) => quoted = !quoted,
            ('(', _, false) => depth += 1,
            (')', 1.., false) => {
                depth -= 1;
                continue;
            }
            _ => {}
        }
        if depth == 0 {
            kept.push(character);
        } else if character == '(' && depth == 1 {
            kept.push(' ');
        }
    }
    kept
}

/// Splits on `separator` outside double quotes, dropping empty pieces.
fn split_outside_quotes(text: &str, separator: char) -> Vec<String> {
    let mut pieces = vec![String::new()];
    let mut quoted = false;
    for character in text.chars() {
        if character == '"' {
            quoted = !quoted;
        }
        if character == separator && !quoted {
            pieces.push(String::new());
        } else if let Some(piece) = pieces.last_mut() {
            piece.push(character);
        }
    }
    pieces.into_iter().map(|piece| piece.trim().to_string()).filter(|piece| !piece.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trusted() -> Vec<String> {
        vec!["mx.example.org".to_string()]
    }

    fn judge(headers: &[&str], from_domain: &str) -> Verdict {
        let headers: Vec<String> = headers.iter().map(|header| header.to_string()).collect();
        verify(&headers, from_domain, &trusted())
    }

    #[test]
    fn dmarc_pass_from_a_trusted_server_verifies() {
        let opendmarc = "mx.example.org; dmarc=pass (p=none dis=none) header.from=example.com";
        assert!(judge(&[opendmarc], "example.com").verified);
        let rspamd = "mx.example.org;\r\n\tdkim=pass header.d=example.com header.s=s1 header.b=\"abc\";\r\n\t\
                      spf=pass (mx.example.org: domain of a@example.com designates 1.2.3.4 as permitted sender) \
                      smtp.mailfrom=a@example.com;\r\n\tdmarc=pass (policy=reject) header.from=example.com";
        assert!(judge(&[rspamd], "example.com").verified);
        let versioned = "MX.Example.Org 1; DMARC = Pass header.from = EXAMPLE.com";
        assert!(judge(&[versioned], "example.com").verified);
    }

    #[test]
    fn dkim_pass_counts_only_for_the_from_domain_or_its_family() {
        let for_domain =
            |domain: &str| format!("mx.example.org; dkim=pass (2048-bit key) header.d={domain} header.s=x");
        assert!(judge(&[&for_domain("example.com")], "example.com").verified);
        assert!(judge(&[&for_domain("example.com")], "mail.example.com").verified);
        assert!(judge(&[&for_domain("news.example.com")], "example.com").verified);
        assert!(!judge(&[&for_domain("mailchimp.example.net")], "example.com").verified);
        assert!(!judge(&[&for_domain("com")], "example.com").verified);
        assert!(judge(&["mx.example.org; dkim=pass header.i=@example.com"], "example.com").verified);
    }

    #[test]
    fn failures_foreign_servers_and_lower_headers_do_not_verify() {
        let failed =
            judge(&["mx.example.org; spf=fail smtp.mailfrom=example.com; dkim=none; dmarc=fail"], "example.com");
        assert!(!failed.verified);
        assert!(failed.detail.contains("spf=fail, dkim=none, dmarc=fail"), "{}", failed.detail);
        let foreign = judge(&["attacker.example; dmarc=pass header.from=example.com"], "example.com");
        assert!(!foreign.verified && foreign.detail.contains("no Authentication-Results header from mx.example.org"));
        // The attacker's own header sits below the one the receiving server put on top.
        let forged_below = judge(
            &[
                "mx.example.org; dmarc=fail header.from=example.com",
                "mx.example.org; dmarc=pass header.from=example.com",
            ],
            "example.com",
        );
        assert!(!forged_below.verified);
        let other_domain = judge(&["mx.example.org; dmarc=pass header.from=evil.example"], "example.com");
        assert!(!other_domain.verified);
        assert!(!judge(&["mx.example.org; none"], "example.com").verified);
        assert!(!judge(&["mx.example.org (dmarc=pass); spf=neutral"], "example.com").verified);
        assert!(!judge(&["mx.example.org; dmarc=pass (\"quoted; text\" header.from=example.com)"], "x.org").verified);
        assert!(!verify(&["mx.example.org; dmarc=pass".to_string()], "example.com", &[]).verified);
    }

    #[test]
    fn comments_and_quotes_are_understood() {
        assert_eq!(without_comments("a (b (c) d) e"), "a   e");
        assert_eq!(without_comments("a \"(not a comment)\" b"), "a \"(not a comment)\" b");
        assert_eq!(split_outside_quotes("a;\"b;c\";;d", ';'), ["a", "\"b;c\"", "d"]);
        let (id, results) = parse("mx; dkim=pass reason=\"good sig\" header.d=a.example").unwrap();
        assert_eq!(id, "mx");
        assert_eq!(results[0].property("header.d"), Some("a.example"));
    }
}
