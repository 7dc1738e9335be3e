//! Signed tokens: `base64url(key id ‖ payload ‖ tag)`, where `tag` is HMAC-SHA256 over
//! `key id ‖ payload`, truncated to 128 bits. Two keys can be active (current and previous) so
//! keys rotate without resetting visitors; tokens are always sealed with the current key.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::b64;

/// Bytes of the truncated MAC tag.
pub const TAG_LEN: usize = 16;
/// Shortest accepted secret, in bytes.
pub const MIN_SECRET_LEN: usize = 16;

type HmacSha256 = Hmac<Sha256>;

/// A key with its HMAC state prepared once (the inner/outer pads are not recomputed per use).
#[derive(Clone)]
struct Key {
    id: u8,
    mac: HmacSha256,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key {{ id: {}, secret: <redacted> }}", self.id)
    }
}

/// The current key and, during a rotation, the previous one.
#[derive(Clone, Debug)]
pub struct Keyring {
    current: Key,
    previous: Option<Key>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    TooShort { id: u8, len: usize },
    SameId(u8),
    Malformed(String),
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::TooShort { id, len } => {
                write!(
                    f,
                    "key {id} is {len} bytes; secrets need at least {MIN_SECRET_LEN}"
                )
            }
            KeyError::SameId(id) => write!(f, "current and previous keys share id {id}"),
            KeyError::Malformed(m) => write!(f, "malformed key list: {m}"),
        }
    }
}

impl std::error::Error for KeyError {}

/// Why a token was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealError {
    BadBase64,
    Truncated,
    UnknownKey,
    BadMac,
}

/// A verified payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub payload: Vec<u8>,
    /// Verified with the previous key: the caller should re-seal under the current one.
    pub by_previous: bool,
}

impl Keyring {
    pub fn new(current: (u8, &[u8]), previous: Option<(u8, &[u8])>) -> Result<Keyring, KeyError> {
        let make = |(id, secret): (u8, &[u8])| {
            if secret.len() < MIN_SECRET_LEN {
                return Err(KeyError::TooShort {
                    id,
                    len: secret.len(),
                });
            }
            let mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
            Ok(Key { id, mac })
        };
        let current = make(current)?;
        let previous = previous.map(make).transpose()?;
        if previous.as_ref().is_some_and(|p| p.id == current.id) {
            return Err(KeyError::SameId(current.id));
        }
        Ok(Keyring { current, previous })
    }

    /// Parses `"<id>:<base64url secret>[,<id>:<base64url secret>]"`: current first, then previous.
    pub fn parse(spec: &str) -> Result<Keyring, KeyError> {
        let mut keys = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (id, secret) = part.split_once(':').ok_or_else(|| {
                KeyError::Malformed("each key is '<id>:<base64url secret>'".into())
            })?;
            let id: u8 = id
                .trim()
                .parse()
                .map_err(|_| KeyError::Malformed(format!("key id '{id}' is not 0–255")))?;
            let secret = b64::decode(secret.trim().trim_end_matches('=')).ok_or_else(|| {
                KeyError::Malformed(format!("secret of key {id} is not base64url"))
            })?;
            keys.push((id, secret));
        }
        match keys.as_slice() {
            [cur] => Keyring::new((cur.0, &cur.1), None),
            [cur, prev] => Keyring::new((cur.0, &cur.1), Some((prev.0, &prev.1))),
            [] => Err(KeyError::Malformed("no key given".into())),
            _ => Err(KeyError::Malformed(
                "at most two keys (current, previous)".into(),
            )),
        }
    }

    pub fn current_id(&self) -> u8 {
        self.current.id
    }

    fn tag(key: &Key, kid: u8, payload: &[u8]) -> [u8; 32] {
        let mut mac = key.mac.clone();
        mac.update(&[kid]);
        mac.update(payload);
        mac.finalize().into_bytes().into()
    }

    /// Seals `payload` under the current key.
    pub fn seal(&self, payload: &[u8]) -> String {
        let mut raw = Vec::with_capacity(1 + payload.len() + TAG_LEN);
        raw.push(self.current.id);
        raw.extend_from_slice(payload);
        let tag = Self::tag(&self.current, self.current.id, payload);
        raw.extend_from_slice(&tag[..TAG_LEN]);
        b64::encode(&raw)
    }

    /// Verifies a token and returns its payload.
    pub fn open(&self, token: &str) -> Result<Opened, SealError> {
        let raw = b64::decode(token).ok_or(SealError::BadBase64)?;
        if raw.len() < 1 + TAG_LEN + 1 {
            return Err(SealError::Truncated);
        }
        let kid = raw[0];
        let (body, tag) = raw[1..].split_at(raw.len() - 1 - TAG_LEN);
        let (key, by_previous) = if kid == self.current.id {
            (&self.current, false)
        } else {
            match &self.previous {
                Some(p) if p.id == kid => (p, true),
                _ => return Err(SealError::UnknownKey),
            }
        };
        let mut mac = key.mac.clone();
        mac.update(&[kid]);
        mac.update(body);
        // Constant-time comparison of the truncated tag.
        mac.verify_truncated_left(tag)
            .map_err(|_| SealError::BadMac)?;
        Ok(Opened {
            payload: body.to_vec(),
            by_previous,
        })
    }
}

/// Encodes a secret as a key-list entry (`vitrine keygen`).
pub fn format_key(id: u8, secret: &[u8]) -> String {
    format!("{id}:{}", b64::encode(secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring() -> Keyring {
        Keyring::new(
            (2, b"0123456789abcdef0123456789abcdef"),
            Some((1, b"previous-secret-previous-secret")),
        )
        .unwrap()
    }

    #[test]
    fn golden_token() {
        // HMAC-SHA256(key="0123456789abcdef0123456789abcdef", msg=0x02 "hi"), first 16 bytes,
        // computed independently with Python's hmac module.
        let token = ring().seal(b"hi");
        let raw = b64::decode(&token).unwrap();
        assert_eq!(&raw[..3], b"\x02hi");
        assert_eq!(hex(&raw[3..]), "3167293054774734212febdfd13d8c78");
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn rejects() {
        let r = ring();
        let t = r.seal(b"payload");
        assert_eq!(
            r.open(&t).unwrap(),
            Opened {
                payload: b"payload".to_vec(),
                by_previous: false
            }
        );
        assert_eq!(r.open("!!"), Err(SealError::BadBase64));
        assert_eq!(r.open("AAAA"), Err(SealError::Truncated));
        let other = Keyring::new((9, b"another-secret-another-secret!!"), None).unwrap();
        assert_eq!(r.open(&other.seal(b"payload")), Err(SealError::UnknownKey));
        let forged = Keyring::new((2, b"wrong-secret-wrong-secret-wrong!"), None).unwrap();
        assert_eq!(r.open(&forged.seal(b"payload")), Err(SealError::BadMac));
    }

    #[test]
    fn rotation() {
        let old = Keyring::new((1, b"previous-secret-previous-secret"), None).unwrap();
        let t = old.seal(b"x");
        assert_eq!(
            ring().open(&t).unwrap(),
            Opened {
                payload: b"x".to_vec(),
                by_previous: true
            }
        );
    }

    #[test]
    fn parses_key_lists() {
        let spec = format!("{},{}", format_key(3, &[7; 32]), format_key(2, &[8; 32]));
        let r = Keyring::parse(&spec).unwrap();
        assert_eq!(r.current_id(), 3);
        assert_eq!(
            Keyring::parse("3:c2hvcnQ").unwrap_err(),
            KeyError::TooShort { id: 3, len: 5 }
        );
        assert!(matches!(
            Keyring::parse("x:abc"),
            Err(KeyError::Malformed(_))
        ));
        assert!(matches!(Keyring::parse(""), Err(KeyError::Malformed(_))));
        assert_eq!(
            Keyring::parse(&format!(
                "{},{}",
                format_key(1, &[7; 32]),
                format_key(1, &[8; 32])
            ))
            .unwrap_err(),
            KeyError::SameId(1)
        );
    }
}
