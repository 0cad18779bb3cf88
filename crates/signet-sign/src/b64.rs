//! Strict standard base64 (RFC 4648 with padding): the only encoding of bytes in envelopes, keys
//! and indexes. Non-canonical input (bad padding, stray trailing bits, whitespace) is refused.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// Encodes with padding.
pub(crate) fn encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Decodes canonical padded base64; the error says why not.
pub(crate) fn decode(text: &str) -> Result<Vec<u8>, String> {
    STANDARD
        .decode(text)
        .map_err(|e| format!("invalid base64: {e}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn strict() {
        assert_eq!(decode(&encode(b"signet")).unwrap(), b"signet");
        assert!(decode("c2lnbmV0").is_ok());
        assert!(decode("c2lnbmV").is_err());
        assert!(decode("c2lnbmV1=").is_err());
        assert!(decode(" c2lnbmV0").is_err());
        // "YR==" decodes with stray trailing bits ("YQ==" is canonical).
        assert!(decode("YR==").is_err());
    }
}
