//! Who is at the other end: the connection's peer, or — when the peer is one of the
//! `trusted_proxies` — the client that proxy names in `X-Forwarded-For`. Only trusted proxies
//! are believed, so a client cannot claim another address by sending the header itself.

use std::net::IpAddr;

use actix_web::HttpRequest;
use ipnet::IpNet;

/// The client's address, by the rule above; `None` without a peer (a Unix socket).
pub fn client_address(request: &HttpRequest, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = request.peer_addr()?.ip();
    let is_trusted = |address: &IpAddr| trusted.iter().any(|network| network.contains(address));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<&str> = request
        .headers()
        .get_all("X-Forwarded-For")
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    // Each proxy appends the address it saw: the nearest untrusted one is the client.
    let mut client = peer;
    for entry in forwarded.iter().rev() {
        let Ok(address) = entry.parse::<IpAddr>() else { return Some(client) };
        client = address;
        if !is_trusted(&address) {
            break;
        }
    }
    Some(client)
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn address(peer: &str, forwarded: Option<&str>, trusted: &[&str]) -> String {
        let mut request = TestRequest::default().peer_addr(format!("{peer}:4000").parse().unwrap());
        if let Some(forwarded) = forwarded {
            request = request.insert_header(("X-Forwarded-For", forwarded));
        }
        let trusted: Vec<IpNet> = trusted.iter().map(|network| network.parse().unwrap()).collect();
        client_address(&request.to_http_request(), &trusted).unwrap().to_string()
    }

    #[test]
    fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
        assert_eq!(address("203.0.113.9", Some("10.9.9.9"), &[]), "203.0.113.9", "no proxy trusted");
        assert_eq!(address("203.0.113.9", Some("10.9.9.9"), &["127.0.0.1/32"]), "203.0.113.9", "not from a proxy");
        assert_eq!(address("127.0.0.1", Some("198.51.100.7"), &["127.0.0.1/32"]), "198.51.100.7");
        assert_eq!(
            address("127.0.0.1", Some("6.6.6.6, 198.51.100.7, 10.0.0.2"), &["127.0.0.1/32", "10.0.0.0/8"]),
            "198.51.100.7",
            "a client cannot put itself in front of the list"
        );
        assert_eq!(address("127.0.0.1", None, &["127.0.0.1/32"]), "127.0.0.1");
        assert_eq!(address("127.0.0.1", Some("garbage"), &["127.0.0.1/32"]), "127.0.0.1");
    }
}
