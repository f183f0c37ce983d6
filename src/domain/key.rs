use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What an API key may do. Scopes nest: `admin` includes `ingest`, which
/// includes `read`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Read scores, facts, sources and products (when reads need a key).
    Read,
    /// Write facts, sources, products and saved scenarios.
    Ingest,
    /// Manage keys and read the audit trail.
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Read, Scope::Ingest, Scope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Ingest => "ingest",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|scope| scope.as_str() == s)
    }

    /// Whether holding `self` grants `needed`.
    pub fn grants(self, needed: Scope) -> bool {
        self >= needed
    }
}

/// A new key's secret: `ck_<prefix>_<secret>`, where the 8-hex-digit prefix
/// is public (it finds the key) and the secret carries 256 random bits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySecret {
    pub prefix: String,
    pub full: String,
}

const KEY_MARK: &str = "ck_";

impl KeySecret {
    pub fn generate() -> Result<KeySecret, getrandom::Error> {
        let mut bytes = [0u8; 36];
        getrandom::fill(&mut bytes)?;
        let prefix = hex(&bytes[..4]);
        let secret = hex(&bytes[4..]);
        Ok(KeySecret {
            full: format!("{KEY_MARK}{prefix}_{secret}"),
            prefix,
        })
    }

    /// The public prefix of a presented key, if it has the key's shape.
    pub fn prefix_of(presented: &str) -> Option<&str> {
        let rest = presented.strip_prefix(KEY_MARK)?;
        let (prefix, secret) = rest.split_once('_')?;
        let hex_digits =
            |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
        (hex_digits(prefix, 8) && hex_digits(secret, 64)).then_some(prefix)
    }

    /// SHA-256 of the whole key: right for random tokens (no salt or
    /// stretching needed, as there is nothing to guess).
    pub fn hash(presented: &str) -> [u8; 32] {
        use sha2::Digest;
        sha2::Sha256::digest(presented.as_bytes()).into()
    }
}

/// Lower-case hex digits of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares two digests without leaking, through timing, how much matched.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_and_recognisable() {
        let a = KeySecret::generate().unwrap();
        let b = KeySecret::generate().unwrap();
        assert_ne!(a.full, b.full);
        assert_eq!(KeySecret::prefix_of(&a.full), Some(a.prefix.as_str()));
        assert_eq!(a.full.len(), 3 + 8 + 1 + 64);
        assert_eq!(KeySecret::prefix_of("ck_1234_abcd"), None);
        assert_eq!(KeySecret::prefix_of("Bearer nonsense"), None);
    }

    #[test]
    fn scopes_nest() {
        assert!(Scope::Admin.grants(Scope::Ingest));
        assert!(Scope::Ingest.grants(Scope::Read));
        assert!(!Scope::Read.grants(Scope::Ingest));
        assert!(!Scope::Ingest.grants(Scope::Admin));
    }

    #[test]
    fn digests_compare_whole() {
        assert!(constant_time_eq(&[1, 2, 3], &[1, 2, 3]));
        assert!(!constant_time_eq(&[1, 2, 3], &[1, 2, 4]));
        assert!(!constant_time_eq(&[1, 2], &[1, 2, 3]));
    }
}
