//! Customer traits the origin vouches for (`vt_t`), sealed with their own key.
//!
//! Payload: `u8 0x81 | u32 issued_at | varint purchases_90d | varint aov (hundredths) |
//! u8 len | tier (utf-8, ≤ 16 bytes)`. Tokens older than [`TRAITS_MAX_AGE_SECS`] are ignored.

use crate::state::keyring::{Keyring, SealError};

const TRAITS_VERSION: u8 = 0x81;
/// Traits older than this are ignored: the origin re-signs them on each login/visit.
pub const TRAITS_MAX_AGE_SECS: u32 = 7 * 86_400;
const MAX_TIER: usize = 16;

#[derive(Debug, Clone, PartialEq)]
pub struct Traits {
    pub purchases_90d: u32,
    /// Average order value in currency units.
    pub aov: f64,
    pub tier: String,
    /// Unix seconds.
    pub issued_at: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraitsIssue {
    Seal(SealError),
    Malformed,
    Expired,
    NoKey,
}

impl TraitsIssue {
    pub fn code(self) -> &'static str {
        match self {
            TraitsIssue::Seal(SealError::BadBase64) => "traits_bad_base64",
            TraitsIssue::Seal(SealError::Truncated) => "traits_truncated",
            TraitsIssue::Seal(SealError::UnknownKey) => "traits_unknown_key",
            TraitsIssue::Seal(SealError::BadMac) => "traits_bad_mac",
            TraitsIssue::Malformed => "traits_malformed",
            TraitsIssue::Expired => "traits_expired",
            TraitsIssue::NoKey => "traits_no_key",
        }
    }
}

pub fn seal_traits(t: &Traits, keys: &Keyring) -> String {
    let mut p = vec![TRAITS_VERSION];
    p.extend_from_slice(&t.issued_at.to_le_bytes());
    leb(&mut p, t.purchases_90d);
    leb(
        &mut p,
        libm::round(t.aov.clamp(0.0, 40_000_000.0) * 100.0) as u32,
    );
    let tier = &t.tier.as_bytes()[..t.tier.len().min(MAX_TIER)];
    let tier = std::str::from_utf8(tier).map_or("", |s| s);
    p.push(tier.len() as u8);
    p.extend_from_slice(tier.as_bytes());
    keys.seal(&p)
}

/// Verifies a traits token. Never fails: a bad token yields no traits and an issue.
pub fn open_traits(token: &str, keys: Option<&Keyring>, now: u32) -> Result<Traits, TraitsIssue> {
    let keys = keys.ok_or(TraitsIssue::NoKey)?;
    if token.len() > 256 {
        return Err(TraitsIssue::Malformed);
    }
    let p = keys.open(token).map_err(TraitsIssue::Seal)?.payload;
    let (&version, rest) = p.split_first().ok_or(TraitsIssue::Malformed)?;
    if version != TRAITS_VERSION {
        return Err(TraitsIssue::Malformed);
    }
    let (issued, mut rest) = rest.split_at_checked(4).ok_or(TraitsIssue::Malformed)?;
    let issued_at = u32::from_le_bytes([issued[0], issued[1], issued[2], issued[3]]);
    let purchases_90d = read_leb(&mut rest)?;
    let aov = f64::from(read_leb(&mut rest)?) / 100.0;
    let (&len, tier) = rest.split_first().ok_or(TraitsIssue::Malformed)?;
    if usize::from(len) > MAX_TIER || tier.len() != usize::from(len) {
        return Err(TraitsIssue::Malformed);
    }
    let tier = String::from_utf8(tier.to_vec()).map_err(|_| TraitsIssue::Malformed)?;
    if now.saturating_sub(issued_at) > TRAITS_MAX_AGE_SECS || issued_at > now.saturating_add(300) {
        return Err(TraitsIssue::Expired);
    }
    Ok(Traits {
        purchases_90d,
        aov,
        tier,
        issued_at,
    })
}

fn leb(out: &mut Vec<u8>, v: u32) {
    crate::leb128::write(out, u64::from(v));
}

/// A u32 varint off the front of `rest`.
fn read_leb(rest: &mut &[u8]) -> Result<u32, TraitsIssue> {
    let (v, n) = crate::leb128::read(rest, 32).map_err(|_| TraitsIssue::Malformed)?;
    *rest = &rest[n..];
    Ok(v as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keyring {
        Keyring::new((1, b"traits-secret-traits-secret-1234"), None).unwrap()
    }

    #[test]
    fn round_trip_and_expiry() {
        let t = Traits {
            purchases_90d: 4,
            aov: 182.5,
            tier: "gold".into(),
            issued_at: 1_000_000,
        };
        let token = seal_traits(&t, &keys());
        assert_eq!(open_traits(&token, Some(&keys()), 1_000_100), Ok(t));
        assert_eq!(
            open_traits(&token, Some(&keys()), 1_000_000 + TRAITS_MAX_AGE_SECS + 1),
            Err(TraitsIssue::Expired)
        );
        assert_eq!(
            open_traits(&token, None, 1_000_100),
            Err(TraitsIssue::NoKey)
        );
        let state_key = Keyring::new((1, b"state-secret-state-secret-123456"), None).unwrap();
        assert_eq!(
            open_traits(&token, Some(&state_key), 1_000_100),
            Err(TraitsIssue::Seal(SealError::BadMac))
        );
        // A state payload sealed with the traits key is still not traits.
        assert_eq!(
            open_traits(&keys().seal(&[1, 2, 3]), Some(&keys()), 0),
            Err(TraitsIssue::Malformed)
        );
    }
}
