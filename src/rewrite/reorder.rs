//! The output side of `reorder`: a sink that buffers only a container's items.
//!
//! lol_html cannot hold output back, so element handlers mark the stream instead: sentinels
//! `\x01vt<nonce:16 hex><kind><index:8 hex>\x01` at a container's start and end (inside it) and
//! around each item (outside it). This sink strips every sentinel, passes everything outside a
//! container straight through, and inside one keeps `gap item gap item … gap`; at the container's
//! end it writes the gaps in place and the items in ranked order. Whatever goes wrong — the
//! buffer limit, an item that never ends, a container that never closes — the buffered bytes go
//! out in origin order. No byte is ever lost.
//!
//! The nonce comes from the caller's randomness, so page content cannot forge a sentinel.

use std::cell::RefCell;
use std::rc::Rc;

use super::Item;
use crate::decide::{ItemKeys, RankPlan};

pub(super) const SENTINEL_LEN: usize = 1 + 2 + 16 + 1 + 8 + 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mark {
    ContainerStart,
    ContainerEnd,
    ItemStart,
    ItemEnd,
}

impl Mark {
    fn byte(self) -> u8 {
        match self {
            Mark::ContainerStart => b'C',
            Mark::ContainerEnd => b'c',
            Mark::ItemStart => b'I',
            Mark::ItemEnd => b'i',
        }
    }
    fn from_byte(b: u8) -> Option<Mark> {
        match b {
            b'C' => Some(Mark::ContainerStart),
            b'c' => Some(Mark::ContainerEnd),
            b'I' => Some(Mark::ItemStart),
            b'i' => Some(Mark::ItemEnd),
            _ => None,
        }
    }
}

/// The sentinel text for a mark; `index` names the item (or the reorder slot for containers).
pub(super) fn sentinel(nonce: u64, mark: Mark, index: u32) -> String {
    format!("\x01vt{nonce:016x}{}{index:08x}\x01", mark.byte() as char)
}

/// State shared by the element handlers (which record items) and the sink.
#[derive(Default)]
pub(super) struct Shared {
    /// Attributes of every item seen, in document order; sentinels carry indices into it.
    pub items: Vec<Item>,
    /// Containers left in origin order (buffer limit, imbalance).
    pub fallbacks: u32,
    /// Containers reordered.
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
    },
    /// Inside a container that overflowed: pass through until its end.
    Overflow {
        depth: u32,
    },
}

enum Part {
    Gap(Vec<u8>),
    Item(u32, Vec<u8>),
}

pub(super) struct ReorderSink<'s, O: FnMut(&[u8])> {
    out: O,
    prefix: [u8; 19],
    plans: Vec<(RankPlan<'s>, usize)>,
    shared: Rc<RefCell<Shared>>,
    mode: Mode,
    /// A partial sentinel carried over from the previous chunk.
    carry: Vec<u8>,
}

impl<'s, O: FnMut(&[u8])> ReorderSink<'s, O> {
    /// `plans`: per reorder slot, its plan and buffer limit in bytes.
    pub fn new(
        out: O,
        nonce: u64,
        plans: Vec<(RankPlan<'s>, usize)>,
        shared: Rc<RefCell<Shared>>,
    ) -> Self {
        let mut prefix = [0u8; 19];
        prefix[..3].copy_from_slice(b"\x01vt");
        prefix[3..].copy_from_slice(format!("{nonce:016x}").as_bytes());
        ReorderSink {
            out,
            prefix,
            plans,
            shared,
            mode: Mode::Pass,
            carry: Vec::new(),
        }
    }

    /// The downstream sink, for bytes that bypass the rewriter after a bail-out.
    pub fn passthrough(&mut self, chunk: &[u8]) {
        self.flush_origin_order();
        self.mode = Mode::Pass;
        if !self.carry.is_empty() {
            let carry = std::mem::take(&mut self.carry);
            (self.out)(&carry);
        }
        (self.out)(chunk);
    }

    pub fn handle(&mut self, chunk: &[u8]) {
        if self.carry.is_empty() {
            self.scan(chunk);
        } else {
            let mut joined = std::mem::take(&mut self.carry);
            joined.extend_from_slice(chunk);
            self.scan(&joined);
        }
    }

    fn scan(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let Some(at) = memchr::memchr(0x01, data) else {
                self.emit(data);
                return;
            };
            let rest = &data[at..];
            // Could this be a sentinel cut by the chunk boundary?
            if rest.len() < SENTINEL_LEN {
                let n = rest.len().min(self.prefix.len());
                if rest[..n] == self.prefix[..n] {
                    self.emit(&data[..at]);
                    self.carry = rest.to_vec();
                    return;
                }
            } else if rest[..19] == self.prefix && rest[SENTINEL_LEN - 1] == 0x01 {
                let mark = Mark::from_byte(rest[19]);
                let index = std::str::from_utf8(&rest[20..28])
                    .ok()
                    .and_then(|h| u32::from_str_radix(h, 16).ok());
                if let (Some(mark), Some(index)) = (mark, index) {
                    self.emit(&data[..at]);
                    self.on_mark(mark, index);
                    data = &rest[SENTINEL_LEN..];
                    continue;
                }
            }
            // A lone 0x01 of the page: content.
            self.emit(&data[..=at]);
            data = &rest[1..];
        }
    }

    fn emit(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let over = match &mut self.mode {
            Mode::Pass | Mode::Overflow { .. } => {
                (self.out)(bytes);
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
            self.flush_origin_order();
            self.mode = Mode::Overflow { depth };
            if let Ok(mut sh) = self.shared.try_borrow_mut() {
                sh.fallbacks += 1;
            }
        }
    }

    fn on_mark(&mut self, mark: Mark, index: u32) {
        match (&mut self.mode, mark) {
            (Mode::Pass, Mark::ContainerStart) => {
                let plan = index as usize;
                if plan < self.plans.len() {
                    self.mode = Mode::Buffer {
                        plan,
                        parts: Vec::new(),
                        open_item: None,
                        depth: 1,
                        bytes: 0,
                    };
                }
            }
            (Mode::Pass, _) => {}
            (Mode::Overflow { depth }, Mark::ContainerStart) => *depth += 1,
            (Mode::Overflow { depth }, Mark::ContainerEnd) => {
                *depth -= 1;
                if *depth == 0 {
                    self.mode = Mode::Pass;
                }
            }
            (Mode::Overflow { .. }, _) => {}
            (Mode::Buffer { depth, .. }, Mark::ContainerStart) => *depth += 1,
            (Mode::Buffer { depth, .. }, Mark::ContainerEnd) if *depth > 1 => *depth -= 1,
            (Mode::Buffer { .. }, Mark::ContainerEnd) => self.finish_container(),
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
        }
    }

    fn finish_container(&mut self) {
        let Mode::Buffer {
            plan,
            parts,
            open_item,
            ..
        } = std::mem::replace(&mut self.mode, Mode::Pass)
        else {
            return;
        };
        let balanced = open_item.is_none();
        let order = if balanced {
            self.order(plan, &parts)
        } else {
            None
        };
        let mut sh = self.shared.try_borrow_mut().ok();
        match order {
            Some(order) => {
                if let Some(sh) = sh.as_mut() {
                    sh.reordered += 1;
                }
                drop(sh);
                let items: Vec<&[u8]> = parts
                    .iter()
                    .filter_map(|p| {
                        if let Part::Item(_, b) = p {
                            Some(&b[..])
                        } else {
                            None
                        }
                    })
                    .collect();
                let mut next = order.into_iter();
                for p in &parts {
                    match p {
                        Part::Gap(g) => (self.out)(g),
                        Part::Item(..) => {
                            if let Some(k) = next.next() {
                                (self.out)(items[k]);
                            }
                        }
                    }
                }
            }
            None => {
                if let Some(sh) = sh.as_mut() {
                    sh.fallbacks += 1;
                }
                drop(sh);
                self.write_parts(&parts, open_item);
            }
        }
    }

    /// The ranked order of the container's items, or `None` when their keys are not known.
    fn order(&self, plan: usize, parts: &[Part]) -> Option<Vec<usize>> {
        let sh = self.shared.try_borrow().ok()?;
        let keys: Vec<ItemKeys<'_>> = parts
            .iter()
            .filter_map(|p| match p {
                Part::Item(i, _) => Some(sh.items.get(*i as usize).map(Item::keys)),
                Part::Gap(_) => None,
            })
            .collect::<Option<Vec<_>>>()?;
        Some(self.plans[plan].0.order(&keys))
    }

    fn write_parts(&mut self, parts: &[Part], open_item: Option<(u32, Vec<u8>)>) {
        for p in parts {
            match p {
                Part::Gap(b) | Part::Item(_, b) => (self.out)(b),
            }
        }
        if let Some((_, b)) = open_item {
            (self.out)(&b);
        }
    }

    /// Writes whatever a container has buffered, in origin order.
    fn flush_origin_order(&mut self) {
        if let Mode::Buffer {
            parts, open_item, ..
        } = std::mem::replace(&mut self.mode, Mode::Pass)
        {
            self.write_parts(&parts, open_item);
        }
    }

    /// End of the document: anything still buffered goes out as it came.
    pub fn finish(&mut self) {
        if matches!(self.mode, Mode::Buffer { .. }) {
            if let Ok(mut sh) = self.shared.try_borrow_mut() {
                sh.fallbacks += 1;
            }
        }
        self.flush_origin_order();
        if !self.carry.is_empty() {
            let carry = std::mem::take(&mut self.carry);
            (self.out)(&carry);
        }
    }
}
