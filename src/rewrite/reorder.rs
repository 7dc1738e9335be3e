//! The reorder stage: a reorder container's items written in ranked order.
//!
//! Marks at a container's start (in its start tag, where its `data-vt-applied` value goes) and
//! end (inside it) and around each item (outside it); inside one this stage keeps
//! `label gap item gap item … gap`, and at the end writes the gaps in place and the items in
//! ranked order, by the keys the item handlers wrote to the [`ItemLog`], and the label
//! `reorder`. Whatever goes wrong — no item with a key, the buffer limit, an item that never
//! ends, a container that never closes, keys the log no longer holds — the buffered bytes go
//! out in origin order, labelled `origin`: the page never claims a reorder it did not get.

use std::cell::RefCell;
use std::rc::Rc;

use super::items::ItemLog;
use super::sentinel::Mark;
use crate::decide::{RankPlan, Shown};

/// The marker value of a container left in origin order.
fn origin_label() -> &'static [u8] {
    Shown::Origin.label().as_bytes()
}

/// What one reorder slot's containers held and got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct PlanOutcome {
    /// Containers found on the page.
    pub containers: u32,
    /// Their items, counted where their keys could be read.
    pub items: u32,
    /// Of those, the items with a key (a SKU or a category).
    pub keyed: u32,
    /// Containers written in ranked order.
    pub reordered: u32,
}

enum Mode {
    Pass,
    /// Inside a container: the active plan, the parts so far, bytes buffered.
    Buffer {
        plan: usize,
        parts: Vec<Part>,
        open_item: Option<(u32, Vec<u8>)>,
        depth: u32,
        bytes: usize,
        /// Its marks came through a held slot that kept the origin content: the item
        /// handlers' log is not this container's, so it stays in origin order.
        replayed: bool,
    },
    /// Inside a container that overflowed: pass through until its end.
    Overflow {
        depth: u32,
    },
}

enum Part {
    /// Where the container's marker value goes.
    Label,
    Gap(Vec<u8>),
    Item(u32, Vec<u8>),
}

pub(super) struct Reorder<'s> {
    /// Per reorder slot: its plan and buffer limit in bytes.
    plans: Vec<(RankPlan<'s>, usize)>,
    /// Read only: the item handlers write it.
    log: Rc<RefCell<ItemLog>>,
    mode: Mode,
    /// Containers reordered.
    pub reordered: u32,
    /// Containers left in origin order (buffer limit, imbalance, unknown keys).
    pub fallbacks: u32,
    /// Per plan.
    pub outcomes: Vec<PlanOutcome>,
}

impl<'s> Reorder<'s> {
    pub(super) fn new(plans: Vec<(RankPlan<'s>, usize)>, log: Rc<RefCell<ItemLog>>) -> Self {
        Reorder {
            outcomes: vec![PlanOutcome::default(); plans.len()],
            plans,
            log,
            mode: Mode::Pass,
            reordered: 0,
            fallbacks: 0,
        }
    }

    /// Bytes of the page.
    pub(super) fn bytes(&mut self, bytes: &[u8], out: &mut impl FnMut(&[u8])) {
        if bytes.is_empty() {
            return;
        }
        let over = match &mut self.mode {
            Mode::Pass | Mode::Overflow { .. } => {
                out(bytes);
                false
            }
            Mode::Buffer {
                plan,
                parts,
                open_item,
                bytes: total,
                ..
            } => {
                *total += bytes.len();
                match open_item {
                    Some((_, buf)) => buf.extend_from_slice(bytes),
                    None => match parts.last_mut() {
                        Some(Part::Gap(g)) => g.extend_from_slice(bytes),
                        _ => parts.push(Part::Gap(bytes.to_vec())),
                    },
                }
                *total > self.plans[*plan].1
            }
        };
        if over {
            let depth = match &self.mode {
                Mode::Buffer { depth, .. } => *depth,
                _ => 1,
            };
            self.flush_origin_order(out);
            self.mode = Mode::Overflow { depth };
            self.fallbacks += 1;
        }
    }

    /// A container or item mark; `replayed` when it comes through a held slot.
    pub(super) fn mark(
        &mut self,
        mark: Mark,
        index: u32,
        replayed: bool,
        out: &mut impl FnMut(&[u8]),
    ) {
        match (&mut self.mode, mark) {
            (Mode::Pass, Mark::ContainerStart) => {
                let plan = index as usize;
                match self.outcomes.get_mut(plan) {
                    Some(outcome) => {
                        outcome.containers += 1;
                        self.mode = Mode::Buffer {
                            plan,
                            parts: vec![Part::Label],
                            open_item: None,
                            depth: 1,
                            bytes: 0,
                            replayed,
                        };
                    }
                    None => out(origin_label()),
                }
            }
            (Mode::Pass, _) => {}
            (Mode::Overflow { depth }, Mark::ContainerStart) => {
                *depth += 1;
                out(origin_label());
            }
            (Mode::Overflow { depth }, Mark::ContainerEnd) => {
                *depth -= 1;
                if *depth == 0 {
                    self.mode = Mode::Pass;
                }
            }
            (Mode::Overflow { .. }, _) => {}
            // A container inside a container is content: labelled as left in origin order.
            (
                Mode::Buffer {
                    depth,
                    parts,
                    open_item,
                    ..
                },
                Mark::ContainerStart,
            ) => {
                *depth += 1;
                match open_item {
                    Some((_, buf)) => buf.extend_from_slice(origin_label()),
                    None => parts.push(Part::Gap(origin_label().to_vec())),
                }
            }
            (Mode::Buffer { depth, .. }, Mark::ContainerEnd) if *depth > 1 => *depth -= 1,
            (Mode::Buffer { .. }, Mark::ContainerEnd) => self.finish_container(index, out),
            // An item inside an item (or inside a nested container) is content: its marks are
            // dropped, and only the open item's own end mark (matched by index) closes it.
            (
                Mode::Buffer {
                    open_item, depth, ..
                },
                Mark::ItemStart,
            ) => {
                if open_item.is_none() && *depth == 1 {
                    *open_item = Some((index, Vec::new()));
                }
            }
            (
                Mode::Buffer {
                    open_item, parts, ..
                },
                Mark::ItemEnd,
            ) => {
                if matches!(open_item, Some((i, _)) if *i == index) {
                    if let Some((i, buf)) = open_item.take() {
                        parts.push(Part::Item(i, buf));
                    }
                }
            }
            (Mode::Buffer { .. }, _) => {}
        }
    }

    /// The end of container `serial` (its place in the item log).
    fn finish_container(&mut self, serial: u32, out: &mut impl FnMut(&[u8])) {
        let Mode::Buffer {
            plan,
            parts,
            open_item,
            replayed,
            ..
        } = std::mem::replace(&mut self.mode, Mode::Pass)
        else {
            return;
        };
        let order = match (open_item.is_none(), replayed) {
            (true, false) => self.order(plan, serial, &parts),
            _ => None,
        };
        let Some(order) = order else {
            self.fallbacks += 1;
            write_parts(&parts, open_item, out);
            return;
        };
        if let Some(outcome) = self.outcomes.get_mut(plan) {
            outcome.reordered += 1;
        }
        self.reordered += 1;
        let items: Vec<&[u8]> = parts
            .iter()
            .filter_map(|p| match p {
                Part::Item(_, b) => Some(&b[..]),
                Part::Label | Part::Gap(_) => None,
            })
            .collect();
        let mut next = order.into_iter();
        for p in &parts {
            match p {
                Part::Label => out(Shown::Reorder.label().as_bytes()),
                Part::Gap(g) => out(g),
                Part::Item(..) => {
                    if let Some(k) = next.next() {
                        out(items[k]);
                    }
                }
            }
        }
    }

    /// The ranked order of the container's items (counted in the plan's outcome), or `None`
    /// when their keys are not known or none has a key.
    fn order(&mut self, plan: usize, serial: u32, parts: &[Part]) -> Option<Vec<usize>> {
        let indices: Vec<u32> = parts
            .iter()
            .filter_map(|p| match p {
                Part::Item(i, _) => Some(*i),
                Part::Label | Part::Gap(_) => None,
            })
            .collect();
        let log = self.log.try_borrow().ok()?;
        let keys = log.keys(serial, &indices)?;
        let keyed = keys.iter().filter(|k| k.any()).count();
        let outcome = self.outcomes.get_mut(plan)?;
        outcome.items += keys.len() as u32;
        outcome.keyed += keyed as u32;
        (keyed > 0).then(|| self.plans[plan].0.order(&keys))
    }

    /// Writes whatever a container has buffered, in origin order.
    pub(super) fn flush_origin_order(&mut self, out: &mut impl FnMut(&[u8])) {
        if let Mode::Buffer {
            parts, open_item, ..
        } = std::mem::replace(&mut self.mode, Mode::Pass)
        {
            write_parts(&parts, open_item, out);
        }
    }

    /// End of the document: a container still buffering goes out in origin order.
    pub(super) fn finish(&mut self, out: &mut impl FnMut(&[u8])) {
        if matches!(self.mode, Mode::Buffer { .. }) {
            self.fallbacks += 1;
        }
        self.flush_origin_order(out);
    }
}

fn write_parts(parts: &[Part], open_item: Option<(u32, Vec<u8>)>, out: &mut impl FnMut(&[u8])) {
    for p in parts {
        match p {
            Part::Label => out(origin_label()),
            Part::Gap(b) | Part::Item(_, b) => out(b),
        }
    }
    if let Some((_, b)) = open_item {
        out(&b);
    }
}
