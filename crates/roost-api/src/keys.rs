//! Secret keys (queue, form and account keys): minted from the layer's random source, known to
//! the cluster only as SHA-256 digests.

use sha2::{Digest, Sha256};

use crate::Api;

/// The SHA-256 digest of some bytes; what the cluster stores and compares.
pub fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

impl Api {
    /// A new key of 256 random bits: `prefix` + 64 hex digits.
    pub fn mint_key(&self, prefix: &str) -> String {
        let bits: String = (0..4).map(|_| format!("{:016x}", self.random())).collect();
        format!("{prefix}{bits}")
    }
}

#[cfg(test)]
mod tests {
    use super::digest;

    #[test]
    fn digests_are_sha256() {
        let hex: String = digest(b"abc").iter().map(|b| format!("{b:02x}")).collect();
        assert!(hex.starts_with("ba7816bf8f01cfea"), "{hex}");
    }
}
