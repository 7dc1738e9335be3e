//! Deterministic bucketing of visitors.
//!
//! `bucket(id, salt)` = the first 8 bytes of SHA-256(`salt` ‖ 0x00 ‖ `id`) read as a big-endian
//! u64, modulo 10,000. Experiments salt with their name; weighted splits with `slot:<name>`.
//! The same visitor lands in the same bucket on every request, on the edge and in the browser.

use sha2::{Digest, Sha256};

/// Buckets per 100%: a bucket is one basis point.
pub const BUCKETS: u32 = 10_000;

pub fn bucket(id: &[u8; 16], salt: &str) -> u32 {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update([0u8]);
    h.update(id);
    let d = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&d[..8]);
    (u64::from_be_bytes(first) % u64::from(BUCKETS)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_vectors() {
        // Computed independently: python3 -c "import hashlib;
        //   d=hashlib.sha256(b'hero-holdout\0'+bytes(range(16))).digest();
        //   print(int.from_bytes(d[:8],'big')%10000)"
        let id: [u8; 16] = core::array::from_fn(|i| i as u8);
        assert_eq!(bucket(&id, "hero-holdout"), GOLDEN_HERO);
        assert_eq!(bucket(&[0xff; 16], "slot:offer"), GOLDEN_OFFER);
    }

    const GOLDEN_HERO: u32 = 4919;
    const GOLDEN_OFFER: u32 = 8337;
}
