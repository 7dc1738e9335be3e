//! The output stream after lol_html: strips every sentinel and passes everything else straight
//! through, except what the two stages below must decide whole — replaced slots
//! ([`super::held`]) and reorder containers ([`super::reorder`]). The held-slot stage sees the
//! stream first; what it lets through, and everything outside held slots, reaches the reorder
//! stage, then the output.
//!
//! No byte of the origin is ever lost, and memory is bounded by the configured limits.

use std::cell::RefCell;
use std::rc::Rc;

use super::held::{HeldSlots, SlotMark, SlotPlan};
use super::items::ItemLog;
use super::reorder::{PlanOutcome, Reorder};
use super::sentinel::{Decoder, Mark, Piece};
use crate::decide::RankPlan;

/// What the stages counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct StreamStats {
    pub reordered: u32,
    pub fallbacks: u32,
    pub slot_fallbacks: u32,
    /// Per reorder plan.
    pub outcomes: Vec<PlanOutcome>,
    /// Per held slot: elements left as the origin sent them.
    pub kept: Vec<u32>,
}

/// Where the rewritten page goes: type-erased, so that the stages are compiled once whatever
/// closure a caller writes with (each instantiation costs kilobytes in the edge bundle).
pub(super) type Output<'s> = Box<dyn FnMut(&[u8]) + 's>;

pub(super) struct Stream<'s> {
    out: Output<'s>,
    decoder: Decoder,
    held: HeldSlots,
    reorder: Reorder<'s>,
    /// A partial sentinel carried over from the previous chunk.
    carry: Vec<u8>,
}

fn slot_mark(mark: Mark) -> Option<SlotMark> {
    Some(match mark {
        Mark::SlotOpen => SlotMark::Open,
        Mark::SlotLabel => SlotMark::Label,
        Mark::VariantStart => SlotMark::VariantStart,
        Mark::VariantEnd => SlotMark::VariantEnd,
        Mark::SlotClose => SlotMark::Close,
        _ => return None,
    })
}

/// Bytes let through by the held-slot stage, which may carry a container's marks: parsed and
/// handed to the reorder stage as replayed.
fn replay(
    decoder: &Decoder,
    reorder: &mut Reorder<'_>,
    mut data: &[u8],
    out: &mut impl FnMut(&[u8]),
) {
    while !data.is_empty() {
        let (piece, rest) = decoder.next(data);
        match piece {
            Piece::Bytes(b) | Piece::Partial(b) => reorder.bytes(b, out),
            Piece::Mark(mark, index) => reorder.mark(mark, index, true, out),
        }
        data = rest;
    }
}

impl<'s> Stream<'s> {
    /// `plans`: per reorder slot, its plan and buffer limit in bytes; `slots`: per held slot;
    /// `log`: the item handlers' log, read here only.
    pub(super) fn new(
        out: Output<'s>,
        nonce: u64,
        plans: Vec<(RankPlan<'s>, usize)>,
        slots: Vec<SlotPlan>,
        log: Rc<RefCell<ItemLog>>,
    ) -> Self {
        Stream {
            out,
            decoder: Decoder::new(nonce),
            held: HeldSlots::new(slots),
            reorder: Reorder::new(plans, log),
            carry: Vec::new(),
        }
    }

    /// A chunk of lol_html's output.
    pub(super) fn write(&mut self, chunk: &[u8]) {
        let joined;
        let mut data = if self.carry.is_empty() {
            chunk
        } else {
            let mut j = std::mem::take(&mut self.carry);
            j.extend_from_slice(chunk);
            joined = j;
            &joined[..]
        };
        let Stream {
            out,
            decoder,
            held,
            reorder,
            carry,
        } = self;
        while !data.is_empty() {
            let (piece, rest) = decoder.next(data);
            let mut below = |b: &[u8]| replay(decoder, reorder, b, out);
            match piece {
                Piece::Partial(p) => *carry = p.to_vec(),
                Piece::Bytes(b) if held.holding() => held.hold(b, &mut below),
                Piece::Mark(mark, index) => match slot_mark(mark) {
                    Some(m) => held.mark(m, index, &mut below),
                    // Inside a held slot a container's marks wait in the held bytes, in their
                    // place, until the slot is decided.
                    None if held.holding() => {
                        let s = super::sentinel::sentinel(decoder.nonce(), mark, index);
                        held.hold(s.as_bytes(), &mut below);
                    }
                    None => reorder.mark(mark, index, false, out),
                },
                Piece::Bytes(b) => reorder.bytes(b, out),
            }
            data = rest;
        }
    }

    /// Bytes that bypass lol_html after it bailed out: everything held goes out as the origin
    /// sent it, then the bytes as they are.
    pub(super) fn passthrough(&mut self, chunk: &[u8]) {
        self.release(false);
        (self.out)(chunk);
    }

    /// Everything held or buffered goes out as it came, and what was carried; `end`: the
    /// document ended (a container still buffering counts as left in origin order).
    fn release(&mut self, end: bool) {
        let Stream {
            out,
            decoder,
            held,
            reorder,
            carry,
        } = self;
        held.release_all(&mut |b: &[u8]| replay(decoder, reorder, b, out));
        match end {
            true => reorder.finish(out),
            false => reorder.flush_origin_order(out),
        }
        if !carry.is_empty() {
            out(&std::mem::take(carry));
        }
    }

    /// End of the document.
    pub(super) fn finish(&mut self) -> StreamStats {
        self.release(true);
        StreamStats {
            reordered: self.reorder.reordered,
            fallbacks: self.reorder.fallbacks,
            slot_fallbacks: self.held.fallbacks,
            outcomes: std::mem::take(&mut self.reorder.outcomes),
            kept: std::mem::take(&mut self.held.kept),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Rank};
    use crate::rewrite::items::Item;
    use crate::rewrite::sentinel::sentinel;

    const NONCE: u64 = 0x5eed;

    fn rank() -> Rank {
        let doc = r#"{"version": 1, "site": "t", "dimensions": {"a": {"half_life_hours": 1}},
            "slots": {"grid": {"selector": "ul", "action": "reorder", "items": "li",
              "rank": {"by_attr": "data-k", "affinity": "none", "boost": {"z": 5}}}}}"#;
        let mut cfg = Config::from_json(doc).unwrap();
        cfg.sites.remove(0).slots.remove(0).rank.unwrap()
    }

    fn m(mark: Mark, index: u32) -> String {
        sentinel(NONCE, mark, index)
    }

    /// A marked grid of items keyed `keys`, as the handlers mark it for container `serial`.
    fn grid(keys: &[&str], serial: u32) -> String {
        let mut s = format!("<ul l=\"{}\">", m(Mark::ContainerStart, 0));
        for (i, k) in keys.iter().enumerate() {
            let i = i as u32;
            s += &format!(
                " {}<li>{k}</li>{}",
                m(Mark::ItemStart, i),
                m(Mark::ItemEnd, i)
            );
        }
        s + &format!(" {}</ul>", m(Mark::ContainerEnd, serial))
    }

    /// The item log as the handlers leave it for a grid of `keys`; returns its serial.
    fn log_of(keys: &[&str]) -> (Rc<RefCell<ItemLog>>, u32) {
        let log = Rc::new(RefCell::new(ItemLog::default()));
        let serial = log.borrow_mut().open_container(0, 1 << 20);
        for k in keys {
            let item = Item {
                sku: None,
                category: (!k.is_empty()).then(|| k.to_string()),
            };
            log.borrow_mut().record(item, 20);
        }
        log.borrow_mut().close_container();
        (log, serial)
    }

    /// Runs `input` through a stream in chunks cut by `seed` (0: whole).
    fn run(
        input: &str,
        log: Rc<RefCell<ItemLog>>,
        limit: usize,
        slots: Vec<SlotPlan>,
        seed: u64,
    ) -> (String, StreamStats) {
        let rank = rank();
        let plan = RankPlan {
            rank: &rank,
            affinity: vec![500],
            suppressed: Vec::new(),
        };
        let mut out = Vec::new();
        let stats = {
            let mut stream = Stream::new(
                Box::new(|b: &[u8]| out.extend_from_slice(b)),
                NONCE,
                vec![(plan, limit)],
                slots,
                log,
            );
            let bytes = input.as_bytes();
            let mut state = seed;
            let mut at = 0;
            while at < bytes.len() {
                let n = if seed == 0 {
                    bytes.len()
                } else {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    1 + (state >> 33) as usize % 40
                };
                let end = (at + n).min(bytes.len());
                stream.write(&bytes[at..end]);
                at = end;
            }
            stream.finish()
        };
        (String::from_utf8(out).unwrap(), stats)
    }

    #[test]
    fn a_grid_is_reordered_by_its_logged_keys_under_any_chunking() {
        let keys = ["a", "z", "b", "z"];
        let (log, serial) = log_of(&keys);
        let want = r#"<ul l="reorder"> <li>z</li> <li>z</li> <li>a</li> <li>b</li> </ul>"#;
        for seed in 0..200 {
            let (out, stats) = run(&grid(&keys, serial), log.clone(), 1 << 20, Vec::new(), seed);
            assert_eq!(out, want, "seed {seed}");
            assert_eq!((stats.reordered, stats.fallbacks), (1, 0));
            let o = stats.outcomes[0];
            assert_eq!((o.containers, o.items, o.keyed, o.reordered), (1, 4, 4, 1));
        }
    }

    #[test]
    fn a_grid_without_keys_stays_in_origin_order_and_says_so() {
        let keys = ["", ""];
        let (log, serial) = log_of(&keys);
        for seed in 0..50 {
            let (out, stats) = run(&grid(&keys, serial), log.clone(), 1 << 20, Vec::new(), seed);
            assert_eq!(out, r#"<ul l="origin"> <li></li> <li></li> </ul>"#);
            assert_eq!((stats.reordered, stats.fallbacks), (0, 1));
            let o = stats.outcomes[0];
            assert_eq!((o.containers, o.items, o.keyed, o.reordered), (1, 2, 0, 0));
        }
    }

    #[test]
    fn a_grid_goes_out_in_origin_order_when_anything_is_off() {
        let keys = ["a", "z"];
        let (log, serial) = log_of(&keys);
        let origin = r#"<ul l="origin"> <li>a</li> <li>z</li> </ul>"#;
        // Over the buffer limit; keys of another container; an item that never ends.
        let unended = grid(&keys, serial).replace(&m(Mark::ItemEnd, 1), "");
        for (input, limit) in [
            (grid(&keys, serial), 10),
            (grid(&keys, serial + 1), 1 << 20),
            (unended, 1 << 20),
        ] {
            for seed in 0..50 {
                let (out, stats) = run(&input, log.clone(), limit, Vec::new(), seed);
                assert_eq!(out, origin, "seed {seed}");
                assert_eq!((stats.reordered, stats.fallbacks), (0, 1));
            }
        }
    }

    #[test]
    fn a_slot_is_replaced_whole_and_a_grid_it_held_back_stays_in_origin_order() {
        let keys = ["a", "z"];
        let (log, serial) = log_of(&keys);
        let slot = |variant: &str, origin: &str| {
            format!(
                "{}<div {}>{}{variant}{}{origin}{}</div>",
                m(Mark::SlotOpen, 0),
                m(Mark::SlotLabel, 0),
                m(Mark::VariantStart, 0),
                m(Mark::VariantEnd, 0),
                m(Mark::SlotClose, 0)
            )
        };
        let plans = |max_bytes| {
            vec![SlotPlan {
                label: "v".into(),
                max_bytes,
            }]
        };
        // Decided: the variant, the origin's grid dropped.
        let input = slot("NEW", &grid(&keys, serial));
        for seed in 0..50 {
            let (out, stats) = run(&input, log.clone(), 1 << 20, plans(1000), seed);
            assert_eq!(out, "<div v>NEW</div>", "seed {seed}");
            assert_eq!(
                (stats.slot_fallbacks, stats.reordered, stats.fallbacks),
                (0, 0, 0)
            );
        }
        // Over the slot's 40 bytes: the origin with its grid, which its marks reach only
        // through the held slot, in origin order.
        let input = slot("NEW", &format!("{}{}", "x".repeat(40), grid(&keys, serial)));
        let want = format!(
            "<div origin>{}<ul l=\"origin\"> <li>a</li> <li>z</li> </ul></div>",
            "x".repeat(40)
        );
        for seed in 0..50 {
            let (out, stats) = run(&input, log.clone(), 1 << 20, plans(40), seed);
            assert_eq!(out, want, "seed {seed}");
            assert_eq!(
                (stats.slot_fallbacks, stats.reordered, stats.fallbacks),
                (1, 0, 1)
            );
        }
    }
}
