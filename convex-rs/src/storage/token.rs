//! Upload tokens: the `token` query parameter of an upload URL. A token
//! carries its expiry and a random nonce, signed (HMAC-SHA256) with the
//! deployment's storage secret, so issuing one writes nothing; the nonce is
//! recorded when the token is used, so it uploads one file.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::StorageError;

const EXPIRY_BYTES: usize = 8;
const NONCE_BYTES: usize = 16;
const MAC_BYTES: usize = 32;

/// The secret tokens are signed with.
pub(crate) type Secret = [u8; 32];

/// What a valid token says.
#[derive(Debug, PartialEq)]
pub(crate) struct UploadToken {
    /// When it expires, in milliseconds since the epoch.
    pub(crate) expires_at_ms: u64,
    /// Its nonce, base64url (the key of its `_storage_uploads` row once used).
    pub(crate) nonce: String,
}

fn mac(secret: &Secret, payload: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(payload);
    mac
}

/// A new token valid until `expires_at_ms`.
pub(crate) fn issue(secret: &Secret, expires_at_ms: u64) -> String {
    let mut bytes = Vec::with_capacity(EXPIRY_BYTES + NONCE_BYTES + MAC_BYTES);
    bytes.extend_from_slice(&expires_at_ms.to_be_bytes());
    bytes.extend_from_slice(&rand::random::<[u8; NONCE_BYTES]>());
    let tag = mac(secret, &bytes).finalize().into_bytes();
    bytes.extend_from_slice(&tag);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Checks a token's signature and expiry at `now_ms`.
pub(crate) fn verify(
    secret: &Secret,
    token: &str,
    now_ms: u64,
) -> Result<UploadToken, StorageError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| StorageError::InvalidToken)?;
    if bytes.len() != EXPIRY_BYTES + NONCE_BYTES + MAC_BYTES {
        return Err(StorageError::InvalidToken);
    }
    let (payload, tag) = bytes.split_at(EXPIRY_BYTES + NONCE_BYTES);
    mac(secret, payload)
        .verify_slice(tag)
        .map_err(|_| StorageError::InvalidToken)?;
    let (expiry, nonce) = payload.split_at(EXPIRY_BYTES);
    let mut expiry_bytes = [0; EXPIRY_BYTES];
    expiry_bytes.copy_from_slice(expiry);
    let expires_at_ms = u64::from_be_bytes(expiry_bytes);
    if now_ms >= expires_at_ms {
        return Err(StorageError::ExpiredToken);
    }
    Ok(UploadToken {
        expires_at_ms,
        nonce: URL_SAFE_NO_PAD.encode(nonce),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: Secret = [7; 32];

    #[test]
    fn a_token_verifies_until_it_expires() {
        let token = issue(&SECRET, 1_000);
        let parsed = verify(&SECRET, &token, 999).unwrap();
        assert_eq!(parsed.expires_at_ms, 1_000);
        assert!(matches!(
            verify(&SECRET, &token, 1_000),
            Err(StorageError::ExpiredToken)
        ));
    }

    #[test]
    fn tokens_have_distinct_nonces() {
        let a = verify(&SECRET, &issue(&SECRET, 5), 0).unwrap();
        let b = verify(&SECRET, &issue(&SECRET, 5), 0).unwrap();
        assert_ne!(a.nonce, b.nonce);
    }

    #[test]
    fn tampered_or_foreign_tokens_are_invalid() {
        let token = issue(&SECRET, u64::MAX);
        assert!(matches!(
            verify(&[8; 32], &token, 0),
            Err(StorageError::InvalidToken)
        ));
        // A later expiry with the original signature.
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        bytes[0] ^= 1;
        let forged = URL_SAFE_NO_PAD.encode(bytes);
        assert!(matches!(
            verify(&SECRET, &forged, 0),
            Err(StorageError::InvalidToken)
        ));
        for garbage in ["", "not base64!", "AAAA"] {
            assert!(matches!(
                verify(&SECRET, garbage, 0),
                Err(StorageError::InvalidToken)
            ));
        }
    }
}
