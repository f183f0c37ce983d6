//! Webhook signatures: HMAC-SHA256 over `<timestamp>.<raw body>`, sent as
//! `Chokepoint-Signature: t=<unix seconds>,v1=<hex>` (one `v1` per secret
//! that signs: two during a rotation). A receiver recomputes `v1` with its
//! secret, compares in constant time, and rejects a timestamp too far from
//! its clock, so a captured request cannot be replayed later.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The header the signature travels in.
pub const HEADER: &str = "Chokepoint-Signature";
/// The scheme's version, the name of each signature in the header.
pub const SCHEME: &str = "v1";

/// A new signing secret: `whsec_` and 64 hex digits (256 random bits).
/// The whole string is the HMAC key.
pub fn new_secret() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(format!("whsec_{}", crate::domain::hex(&bytes)))
}

/// The signature of `body` sent at `timestamp` with `secret`, as hex.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    crate::domain::hex(&mac.finalize().into_bytes())
}

/// The header's value: the timestamp, then one signature per secret.
pub fn header_value(secrets: &[&str], timestamp: i64, body: &[u8]) -> String {
    let mut value = format!("t={timestamp}");
    for secret in secrets {
        value.push_str(&format!(",{SCHEME}={}", sign(secret, timestamp, body)));
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The MAC is RFC 4231's HMAC-SHA256 (its test case 2), and the
    /// signed input is the timestamp, a dot and the body.
    #[test]
    fn matches_rfc_4231_hmac_sha256() {
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            crate::domain::hex(&mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let mut whole = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        whole.update(b"1733300000.{\"a\":1}");
        assert_eq!(
            sign("Jefe", 1733300000, b"{\"a\":1}"),
            crate::domain::hex(&whole.finalize().into_bytes())
        );
    }

    #[test]
    fn a_rotation_signs_with_both_secrets() {
        let value = header_value(&["new", "old"], 42, b"body");
        let parts: Vec<&str> = value.split(',').collect();
        assert_eq!(parts[0], "t=42");
        assert_eq!(parts[1], format!("v1={}", sign("new", 42, b"body")));
        assert_eq!(parts[2], format!("v1={}", sign("old", 42, b"body")));
        assert_ne!(sign("new", 42, b"body"), sign("new", 43, b"body"));
    }

    #[test]
    fn secrets_are_random() {
        let (a, b) = (new_secret().unwrap(), new_secret().unwrap());
        assert_ne!(a, b);
        assert_eq!(a.len(), "whsec_".len() + 64);
    }
}
