//! The binary layout of the state payload (version 1). All integers little-endian or LEB128.
//!
//! ```text
//! u8 version (1) | u8 consent | [16] visitor id | u32 first_seen
//! varint last_seen − first_seen | varint last_seen − session_start
//! varint visits | varint session_views
//! varint last_seen − scores_at                            (version 2; version 1: 0)
//! u8 n, n × (u16 dimension key, varint hundredths)       scores as of scores_at (non-zero only)
//! u8 n, n × (u8 kind, u8 len, len × utf-8 sku)          recent items, newest first
//! u8 n, n × (u16 slot key, u8 session, varint total)      slot counters (non-zero only)
//! ```
//!
//! Scores and counters are stored under stable keys of their names: keys the site no longer
//! has are dropped, and a renamed dimension starts at zero instead of inheriting another's score.

use super::{ItemKind, RecentItem, SlotCounter, StateIssue, VisitorState, VERSION};
use crate::config::{Site, MAX_SKU_LEN};
use crate::leb128::Leb128Error;

const MAX_ENTRIES: usize = 64;
const MAX_RECENT: usize = 16;

pub fn encode(s: &VisitorState, site: &Site) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + s.scores.len() * 5 + s.recent.len() * 16);
    out.push(VERSION);
    out.push(s.consent);
    out.extend_from_slice(&s.id);
    out.extend_from_slice(&s.first_seen.to_le_bytes());
    let last = s.last_seen.max(s.first_seen);
    varint(&mut out, last - s.first_seen);
    varint(&mut out, last.saturating_sub(s.session_start));
    varint(&mut out, s.visits);
    varint(&mut out, s.session_views);
    // The stored scores go back as they came while they still decay to the current ones
    // (nothing added since); otherwise the current ones, as of now.
    let kept = s.scores_at <= last && super::stored_decayed(s, site, last) == s.scores;
    let (at, values) = match kept {
        true => (s.scores_at, &s.stored_scores),
        false => (last, &s.scores),
    };
    varint(&mut out, last - at);

    let scores: Vec<(u16, u32)> = site
        .dimensions
        .iter()
        .zip(values)
        .filter(|(_, v)| **v > 0)
        .map(|(d, v)| (d.key, *v))
        .collect();
    out.push(scores.len() as u8);
    for (key, v) in scores {
        out.extend_from_slice(&key.to_le_bytes());
        varint(&mut out, v);
    }

    let recent: Vec<&RecentItem> = s
        .recent
        .iter()
        .filter(|r| !r.sku.is_empty() && r.sku.len() <= MAX_SKU_LEN)
        .take(MAX_RECENT)
        .collect();
    out.push(recent.len() as u8);
    for r in recent {
        out.push(r.kind as u8);
        out.push(r.sku.len() as u8);
        out.extend_from_slice(r.sku.as_bytes());
    }

    let counters: Vec<(u16, SlotCounter)> = site
        .slots
        .iter()
        .zip(&s.counters)
        .filter(|(_, c)| **c != SlotCounter::default())
        .map(|(slot, c)| (slot.key, *c))
        .collect();
    out.push(counters.len() as u8);
    for (key, c) in counters {
        out.extend_from_slice(&key.to_le_bytes());
        out.push(c.session);
        varint(&mut out, u32::from(c.total));
    }
    out
}

pub fn decode(bytes: &[u8], site: &Site) -> Result<VisitorState, StateIssue> {
    let mut r = Reader { bytes, pos: 0 };
    let version = r.u8()?;
    if version != VERSION && version != 1 {
        return Err(StateIssue::UnknownVersion);
    }
    let consent = r.u8()?;
    let mut id = [0u8; 16];
    id.copy_from_slice(r.take(16)?);
    let first_seen = u32::from_le_bytes(r.take(4)?.try_into().map_err(|_| StateIssue::Truncated)?);
    let last_seen = first_seen
        .checked_add(r.varint()?)
        .ok_or(StateIssue::Malformed)?;
    let session_start = last_seen
        .checked_sub(r.varint()?)
        .ok_or(StateIssue::Malformed)?;
    let visits = r.varint()?;
    let session_views = r.varint()?;
    let scores_at = match version {
        1 => last_seen,
        _ => last_seen
            .checked_sub(r.varint()?)
            .filter(|at| *at >= first_seen)
            .ok_or(StateIssue::Malformed)?,
    };

    let mut scores = vec![0u32; site.dimensions.len()];
    let n = usize::from(r.u8()?);
    if n > MAX_ENTRIES {
        return Err(StateIssue::Malformed);
    }
    let mut seen_keys = Vec::with_capacity(n);
    for _ in 0..n {
        let key = r.u16()?;
        let v = r.varint()?;
        if seen_keys.contains(&key) {
            return Err(StateIssue::Malformed);
        }
        seen_keys.push(key);
        if let Some(i) = site.dimensions.iter().position(|d| d.key == key) {
            scores[i] = v.min(site.dimensions[i].cap);
        }
    }

    let n = usize::from(r.u8()?);
    if n > MAX_RECENT {
        return Err(StateIssue::Malformed);
    }
    let mut recent = Vec::with_capacity(n);
    for _ in 0..n {
        let kind = ItemKind::from_byte(r.u8()?).ok_or(StateIssue::Malformed)?;
        let len = usize::from(r.u8()?);
        if len == 0 || len > MAX_SKU_LEN {
            return Err(StateIssue::Malformed);
        }
        let sku = std::str::from_utf8(r.take(len)?).map_err(|_| StateIssue::Malformed)?;
        recent.push(RecentItem {
            kind,
            sku: sku.to_string(),
        });
    }
    recent.truncate(site.limits.recent_items);

    let mut counters = vec![SlotCounter::default(); site.slots.len()];
    let n = usize::from(r.u8()?);
    if n > MAX_ENTRIES {
        return Err(StateIssue::Malformed);
    }
    for _ in 0..n {
        let key = r.u16()?;
        let session = r.u8()?;
        let total = u16::try_from(r.varint()?).map_err(|_| StateIssue::Malformed)?;
        if let Some(i) = site.slots.iter().position(|s| s.key == key) {
            counters[i] = SlotCounter { session, total };
        }
    }
    if r.pos != bytes.len() {
        return Err(StateIssue::Malformed);
    }
    let mut state = VisitorState {
        id,
        first_seen,
        last_seen,
        session_start,
        visits,
        session_views,
        stored_scores: scores.clone(),
        scores_at,
        scores,
        recent,
        counters,
        consent,
    };
    state.scores = super::stored_decayed(&state, site, last_seen);
    Ok(state)
}

fn varint(out: &mut Vec<u8>, v: u32) {
    crate::leb128::write(out, u64::from(v));
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], StateIssue> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.bytes.len())
            .ok_or(StateIssue::Truncated)?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, StateIssue> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, StateIssue> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn varint(&mut self) -> Result<u32, StateIssue> {
        let rest = self.bytes.get(self.pos..).unwrap_or_default();
        let (v, n) = crate::leb128::read(rest, 32).map_err(|(e, _)| match e {
            Leb128Error::Truncated => StateIssue::Truncated,
            Leb128Error::Malformed => StateIssue::Malformed,
        })?;
        self.pos += n;
        Ok(v as u32)
    }
}
