//! The visitor state carried in the signed `vt` cookie: codec, MAC ([`keyring`], sealed by [`seal()`]), decay, sessions.
//!
//! Architecture Invariant: [`open`] never fails. Whatever the cookie holds, it returns a usable
//! state, and when it could not use the cookie, a [`StateIssue`] saying why.

pub mod b64;
mod codec;
mod id;
pub mod keyring;

use crate::config::Site;
pub use codec::{decode, encode};
pub use id::{hex, id_from_hex};
pub use keyring::{Keyring, SealError};

/// Longest state token Vitrine writes or reads, in bytes (the cookie stays within 1,024).
pub const MAX_TOKEN_LEN: usize = 1000;
/// Payload format version: 2 stores when the scores were last rebased (`scores_at`); version 1
/// payloads (scores as of `last_seen`) are still read.
pub const VERSION: u8 = 2;

/// A visitor's state, aligned with one site's dimensions and slots. Two states are equal when
/// everything but the form the cookie stores the scores in (`stored_scores`, `scores_at`) is.
#[derive(Debug, Clone)]
pub struct VisitorState {
    /// Random id, used only for experiment bucketing.
    pub id: [u8; 16],
    /// Unix seconds.
    pub first_seen: u32,
    pub last_seen: u32,
    pub session_start: u32,
    pub visits: u32,
    pub session_views: u32,
    /// Hundredths of a point, one per site dimension, as of `last_seen`.
    pub scores: Vec<u32>,
    /// The scores as the cookie holds them, as of `scores_at` (unix seconds): `scores` is their
    /// decay to `last_seen`, computed from them in one step. They are written back unchanged
    /// until something adds to a score, so however often the visitor comes, rounding to
    /// hundredths happens once per change, never once per request.
    pub stored_scores: Vec<u32>,
    pub scores_at: u32,
    /// Newest first.
    pub recent: Vec<RecentItem>,
    /// One per site slot.
    pub counters: Vec<SlotCounter>,
    /// Consent bits, reserved for the site's consent banner.
    pub consent: u8,
}

impl PartialEq for VisitorState {
    fn eq(&self, other: &Self) -> bool {
        let meaning = |s: &Self| {
            (
                s.id,
                s.first_seen,
                s.last_seen,
                s.session_start,
                s.visits,
                s.session_views,
                s.consent,
            )
        };
        meaning(self) == meaning(other)
            && self.scores == other.scores
            && self.recent == other.recent
            && self.counters == other.counters
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SlotCounter {
    pub session: u8,
    pub total: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ItemKind {
    Viewed = 1,
    Carted = 2,
    Purchased = 3,
}

impl ItemKind {
    pub fn from_byte(b: u8) -> Option<ItemKind> {
        match b {
            1 => Some(ItemKind::Viewed),
            2 => Some(ItemKind::Carted),
            3 => Some(ItemKind::Purchased),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            ItemKind::Viewed => "viewed",
            ItemKind::Carted => "carted",
            ItemKind::Purchased => "purchased",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentItem {
    pub kind: ItemKind,
    pub sku: String,
}

/// Why a state cookie was not used; the visitor gets a fresh state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateIssue {
    BadBase64,
    BadMac,
    UnknownKey,
    UnknownVersion,
    Truncated,
    Malformed,
    Oversized,
    Duplicated,
    Expired,
}

impl StateIssue {
    /// Stable reason code (logs, explain output).
    pub fn code(self) -> &'static str {
        match self {
            StateIssue::BadBase64 => "bad_base64",
            StateIssue::BadMac => "bad_mac",
            StateIssue::UnknownKey => "unknown_key",
            StateIssue::UnknownVersion => "unknown_version",
            StateIssue::Truncated => "truncated",
            StateIssue::Malformed => "malformed",
            StateIssue::Oversized => "oversized",
            StateIssue::Duplicated => "duplicated",
            StateIssue::Expired => "expired",
        }
    }
}

impl From<SealError> for StateIssue {
    fn from(e: SealError) -> Self {
        match e {
            SealError::BadBase64 => StateIssue::BadBase64,
            SealError::Truncated => StateIssue::Truncated,
            SealError::UnknownKey => StateIssue::UnknownKey,
            SealError::BadMac => StateIssue::BadMac,
        }
    }
}

/// How a state was read.
#[derive(Debug, Clone, PartialEq)]
pub struct Opened {
    pub state: VisitorState,
    /// Whether the state is new (no usable cookie).
    pub fresh: bool,
    /// Why a cookie that was present could not be used.
    pub issue: Option<StateIssue>,
    /// Verified with the previous key.
    pub rotated: bool,
}

/// Where state tokens come from and how they are protected.
#[derive(Debug, Clone, Copy)]
pub enum Protection<'k> {
    /// Edge: MAC-verified with the keyring.
    Signed(&'k Keyring),
    /// Browser-only mode: plain base64url, never trusted for `requires: signed_state`.
    Unsigned,
}

impl<'k> Protection<'k> {
    /// The keyring tokens are signed with. The browser bundle never has one (its engine refuses
    /// keys), and so carries none of the signing code ([`crate::pipeline::SIGNS_STATE`]).
    fn keyring(self) -> Option<&'k Keyring> {
        #[cfg(browser_bundle)]
        return None;
        #[cfg(not(browser_bundle))]
        match self {
            Protection::Signed(keys) => Some(keys),
            Protection::Unsigned => None,
        }
    }
}

impl VisitorState {
    /// A new visitor seen for the first time at `now` (unix seconds).
    pub fn fresh(site: &Site, id: [u8; 16], now: u32) -> VisitorState {
        VisitorState {
            id,
            first_seen: now,
            last_seen: now,
            session_start: now,
            visits: 1,
            session_views: 0,
            scores: vec![0; site.dimensions.len()],
            stored_scores: vec![0; site.dimensions.len()],
            scores_at: now,
            recent: Vec::new(),
            counters: vec![SlotCounter::default(); site.slots.len()],
            consent: 0,
        }
    }

    /// Score of dimension `i` in points.
    pub fn points(&self, i: usize) -> f64 {
        f64::from(self.scores[i]) / 100.0
    }

    /// Records an item at the front of the recent ring (moving it if present), keeping `limit` items.
    pub fn remember(&mut self, kind: ItemKind, sku: &str, limit: usize) {
        if sku.is_empty() || sku.len() > crate::config::MAX_SKU_LEN || limit == 0 {
            return;
        }
        self.recent.retain(|r| !(r.kind == kind && r.sku == sku));
        self.recent.insert(
            0,
            RecentItem {
                kind,
                sku: sku.to_string(),
            },
        );
        self.recent.truncate(limit);
    }

    pub fn has_recent(&self, kind: ItemKind, sku: &str) -> bool {
        self.recent.iter().any(|r| r.kind == kind && r.sku == sku)
    }
}

/// Reads the state from the `vt` cookie values of a request (all of them: duplicates are an issue).
///
/// `now` is unix seconds; `fresh_id` becomes the visitor id when the cookie is not usable.
pub fn open(
    values: &[&str],
    protection: Protection<'_>,
    site: &Site,
    now: u32,
    fresh_id: [u8; 16],
) -> Opened {
    let fresh = |issue| Opened {
        state: VisitorState::fresh(site, fresh_id, now),
        fresh: true,
        issue,
        rotated: false,
    };
    let token = match values {
        [] => return fresh(None),
        [one] => *one,
        _ => return fresh(Some(StateIssue::Duplicated)),
    };
    if token.len() > MAX_TOKEN_LEN {
        return fresh(Some(StateIssue::Oversized));
    }
    let (payload, rotated) = match protection.keyring() {
        Some(keys) => match keys.open(token) {
            Ok(o) => (o.payload, o.by_previous),
            Err(e) => return fresh(Some(e.into())),
        },
        None => match b64::decode(token) {
            Some(p) => (p, false),
            None => return fresh(Some(StateIssue::BadBase64)),
        },
    };
    match decode(&payload, site) {
        Ok(state) if now.saturating_sub(state.last_seen) > site.privacy.state_max_age_secs => {
            fresh(Some(StateIssue::Expired))
        }
        Ok(state) => Opened {
            state,
            fresh: false,
            issue: None,
            rotated,
        },
        Err(issue) => fresh(Some(issue)),
    }
}

/// Writes the state as a token within [`MAX_TOKEN_LEN`]: the oldest recent items go first,
/// then slot counters, then the smallest scores, until it fits.
pub fn seal(state: &VisitorState, protection: Protection<'_>, site: &Site) -> String {
    let write = |s: &VisitorState| match protection.keyring() {
        Some(keys) => keys.seal(&encode(s, site)),
        None => b64::encode(&encode(s, site)),
    };
    let token = write(state);
    if token.len() <= MAX_TOKEN_LEN {
        return token;
    }
    let mut s = state.clone();
    loop {
        let dropped = s.recent.pop().is_some()
            || match s
                .counters
                .iter_mut()
                .find(|c| **c != SlotCounter::default())
            {
                Some(c) => {
                    *c = SlotCounter::default();
                    true
                }
                None => match s.scores.iter_mut().filter(|x| **x > 0).min() {
                    Some(min) => {
                        *min = 0;
                        true
                    }
                    None => false,
                },
            };
        let token = write(&s);
        // NOTE: with nothing left to drop the token is a fixed-size header, far under the limit.
        if token.len() <= MAX_TOKEN_LEN || !dropped {
            return token;
        }
    }
}

/// `score · 2^(−elapsed / half_life)`, rounded to hundredths.
///
/// NOTE: `libm` rather than `f64::powf`, so native and wasm builds round identically.
pub fn decay(centi: u32, elapsed_secs: u32, half_life_secs: f64) -> u32 {
    if elapsed_secs == 0 || centi == 0 {
        return centi;
    }
    let factor = libm::exp2(-f64::from(elapsed_secs) / half_life_secs);
    libm::round(f64::from(centi) * factor) as u32
}

/// Brings a state up to `now`: decays scores (from the stored ones, in one step), starts a new
/// session after the idle time, and clamps scores to their caps.
pub fn touch(state: &mut VisitorState, site: &Site, now: u32) {
    // A clock that went backwards elapses nothing.
    let elapsed = now.saturating_sub(state.last_seen);
    state.scores = stored_decayed(state, site, now.max(state.last_seen));
    if elapsed > site.limits.session_idle_secs {
        state.visits = state.visits.saturating_add(1);
        state.session_views = 0;
        state.session_start = now;
        for c in &mut state.counters {
            c.session = 0;
        }
    }
    state.last_seen = state.last_seen.max(now);
}

/// The stored scores decayed to `at`, clamped to their caps.
pub fn stored_decayed(state: &VisitorState, site: &Site, at: u32) -> Vec<u32> {
    let elapsed = at.saturating_sub(state.scores_at);
    site.dimensions
        .iter()
        .zip(&state.stored_scores)
        .map(|(dim, v)| decay(*v, elapsed, dim.half_life_secs).min(dim.cap))
        .collect()
}

/// Whether the state is in the first request of its session.
pub fn session_is_new(state: &VisitorState) -> bool {
    state.session_views <= 1
}
