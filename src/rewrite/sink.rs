//! The output side of the rewriter: a sink that holds back what must be decided whole.
//!
//! lol_html cannot hold output back, so element handlers mark the stream instead, with
//! sentinels `\x01vt<nonce:16 hex><kind><index:8 hex>\x01`. This sink strips every sentinel and
//! passes everything else straight through, except two kinds of section:
//!
//! - **Replaced slots** (`replace_inner`, `replace`, `remove`). lol_html writes the variant *and*
//!   leaves the origin content in the stream, each between marks; the sink holds both until the
//!   slot ends, then writes the variant. If the slot never ends, outgrows `max_buffer_bytes`, or
//!   lol_html bails out inside it, the sink writes the origin content instead. A slot is either
//!   fully replaced or left as the origin sent it (its marker then says `origin`).
//! - **Reorder containers**. Marks at a container's start and end (inside it) and around each
//!   item (outside it); inside one the sink keeps `gap item gap item … gap`, and at the end writes
//!   the gaps in place and the items in ranked order. Whatever goes wrong — the buffer limit, an
//!   item that never ends, a container that never closes — the buffered bytes go out in origin
//!   order.
//!
//! No byte of the origin is ever lost, and memory is bounded by the configured limits: items
//! are recorded only while a container is buffering, and at most [`MAX_HELD_SLOTS`] replaced
//! slots are held inside one another.
//!
//! The nonce comes from the caller's randomness, so page content cannot forge a sentinel.

use std::cell::RefCell;
use std::rc::Rc;

use super::Item;
use crate::decide::{ItemKeys, RankPlan};

pub(super) const SENTINEL_LEN: usize = 1 + 2 + 16 + 1 + 8 + 1;
/// Replaced slots held at once (nested in one another); deeper ones keep the origin content.
pub(super) const MAX_HELD_SLOTS: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mark {
    ContainerStart,
    ContainerEnd,
    ItemStart,
    ItemEnd,
    /// Before a replaced slot's element (`index`: the held slot).
    SlotOpen,
    /// In the slot's start tag, where its marker's value goes.
    SlotLabel,
    /// Before the variant's content.
    VariantStart,
    /// After the variant's content: the origin's content follows.
    VariantEnd,
    /// The end of what the variant replaces.
    SlotClose,
}

impl Mark {
    fn byte(self) -> u8 {
        match self {
            Mark::ContainerStart => b'C',
            Mark::ContainerEnd => b'c',
            Mark::ItemStart => b'I',
            Mark::ItemEnd => b'i',
            Mark::SlotOpen => b'S',
            Mark::SlotLabel => b'L',
            Mark::VariantStart => b'V',
            Mark::VariantEnd => b'v',
            Mark::SlotClose => b's',
        }
    }
    fn from_byte(b: u8) -> Option<Mark> {
        match b {
            b'C' => Some(Mark::ContainerStart),
            b'c' => Some(Mark::ContainerEnd),
            b'I' => Some(Mark::ItemStart),
            b'i' => Some(Mark::ItemEnd),
            b'S' => Some(Mark::SlotOpen),
            b'L' => Some(Mark::SlotLabel),
            b'V' => Some(Mark::VariantStart),
            b'v' => Some(Mark::VariantEnd),
            b's' => Some(Mark::SlotClose),
            _ => None,
        }
    }
    fn of_slot(self) -> bool {
        matches!(
            self,
            Mark::SlotOpen
                | Mark::SlotLabel
                | Mark::VariantStart
                | Mark::VariantEnd
                | Mark::SlotClose
        )
    }
}

/// The sentinel text for a mark; `index` names the item, the reorder slot, or the held slot.
pub(super) fn sentinel(nonce: u64, mark: Mark, index: u32) -> String {
    format!("\x01vt{nonce:016x}{}{index:08x}\x01", mark.byte() as char)
}

/// State shared by the element handlers (which record items) and the sink.
#[derive(Default)]
pub(super) struct Shared {
    /// Attributes of the items of the container being buffered, in document order; sentinels
    /// carry indices into it.
    pub items: Vec<Item>,
    /// Whether a container is buffering (outside any held slot): only then are items recorded.
    pub buffering: bool,
    /// Containers left in origin order (buffer limit, imbalance).
    pub fallbacks: u32,
    /// Containers reordered.
    pub reordered: u32,
    /// Replaced slots left as the origin sent them (limit, unended, bail-out).
    pub slot_fallbacks: u32,
}

/// A piece of the marked stream.
enum Piece<'a> {
    Bytes(&'a [u8]),
    Mark(Mark, u32),
    /// The start of what may be a sentinel cut by the chunk's end.
    Partial(&'a [u8]),
}

/// Splits `data` into bytes and this nonce's sentinels.
fn next_piece<'a>(data: &'a [u8], prefix: &[u8; 19]) -> (Piece<'a>, &'a [u8]) {
    let Some(at) = memchr::memchr(0x01, data) else {
        return (Piece::Bytes(data), &[]);
    };
    if at > 0 {
        return (Piece::Bytes(&data[..at]), &data[at..]);
    }
    if data.len() < SENTINEL_LEN {
        let n = data.len().min(prefix.len());
        if data[..n] == prefix[..n] {
            return (Piece::Partial(data), &[]);
        }
    } else if data[..19] == *prefix && data[SENTINEL_LEN - 1] == 0x01 {
        let mark = Mark::from_byte(data[19]);
        let index = std::str::from_utf8(&data[20..28])
            .ok()
            .and_then(|h| u32::from_str_radix(h, 16).ok());
        if let (Some(mark), Some(index)) = (mark, index) {
            return (Piece::Mark(mark, index), &data[SENTINEL_LEN..]);
        }
    }
    // A lone 0x01 of the page: content.
    (Piece::Bytes(&data[..1]), &data[1..])
}

/// What a held slot is collecting.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The start tag (replace_inner), up to the variant.
    Head,
    Variant,
    Origin,
}

/// A replaced slot held until its end.
struct Held {
    slot: u32,
    phase: Phase,
    head: Vec<u8>,
    /// Where in `head` the marker's value goes.
    label_at: Option<usize>,
    variant: Vec<u8>,
    origin: Vec<u8>,
    /// `false` once the slot is given up (limit, depth): origin bytes then pass through and
    /// the rest of the variant is dropped.
    holding: bool,
}

impl Held {
    fn bytes(&self) -> usize {
        self.head.len() + self.variant.len() + self.origin.len()
    }
}

/// A held slot's marker value and buffer limit.
pub(super) struct SlotPlan {
    pub label: String,
    pub max_bytes: usize,
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

pub(super) struct Sink<'s, O: FnMut(&[u8])> {
    out: O,
    nonce: u64,
    prefix: [u8; 19],
    plans: Vec<(RankPlan<'s>, usize)>,
    slots: Vec<SlotPlan>,
    shared: Rc<RefCell<Shared>>,
    mode: Mode,
    /// Replaced slots being held, innermost last.
    held: Vec<Held>,
    /// A partial sentinel carried over from the previous chunk.
    carry: Vec<u8>,
}

impl<'s, O: FnMut(&[u8])> Sink<'s, O> {
    /// `plans`: per reorder slot, its plan and buffer limit in bytes; `slots`: per held slot.
    pub fn new(
        out: O,
        nonce: u64,
        plans: Vec<(RankPlan<'s>, usize)>,
        slots: Vec<SlotPlan>,
        shared: Rc<RefCell<Shared>>,
    ) -> Self {
        let mut prefix = [0u8; 19];
        prefix[..3].copy_from_slice(b"\x01vt");
        prefix[3..].copy_from_slice(format!("{nonce:016x}").as_bytes());
        Sink {
            out,
            nonce,
            prefix,
            plans,
            slots,
            shared,
            mode: Mode::Pass,
            held: Vec::new(),
            carry: Vec::new(),
        }
    }

    /// The downstream sink, for bytes that bypass the rewriter after a bail-out: everything
    /// held goes out as the origin sent it.
    pub fn passthrough(&mut self, chunk: &[u8]) {
        self.release_all();
        self.flush_origin_order();
        self.mode = Mode::Pass;
        self.sync();
        if !self.carry.is_empty() {
            let carry = std::mem::take(&mut self.carry);
            (self.out)(&carry);
        }
        (self.out)(chunk);
    }

    pub fn handle(&mut self, chunk: &[u8]) {
        let joined;
        let mut data = if self.carry.is_empty() {
            chunk
        } else {
            let mut j = std::mem::take(&mut self.carry);
            j.extend_from_slice(chunk);
            joined = j;
            &joined[..]
        };
        while !data.is_empty() {
            let (piece, rest) = next_piece(data, &self.prefix);
            match piece {
                Piece::Bytes(b) if self.held.is_empty() => self.emit(b),
                Piece::Bytes(b) => self.hold(b),
                Piece::Partial(p) => self.carry = p.to_vec(),
                Piece::Mark(mark, index) if mark.of_slot() => self.on_slot_mark(mark, index),
                Piece::Mark(mark, index) => {
                    if self.held.is_empty() {
                        self.on_mark(mark, index);
                    } else {
                        // Inside a held slot the container's marks wait in the held bytes, in
                        // their place, until the slot is decided.
                        let s = sentinel(self.nonce, mark, index);
                        self.hold(s.as_bytes());
                    }
                }
            }
            data = rest;
        }
        self.sync();
    }

    /// Tells the item handlers whether a container is buffering outside any held slot.
    fn sync(&self) {
        if let Ok(mut sh) = self.shared.try_borrow_mut() {
            sh.buffering = self.held.is_empty() && matches!(self.mode, Mode::Buffer { .. });
        }
    }

    // -----------------------------------------------------------------------------------------
    // Held slots

    /// Bytes into the innermost held slot (or on, if none holds them).
    fn hold(&mut self, bytes: &[u8]) {
        self.deliver(self.held.len(), bytes);
    }

    /// Bytes to the held slot at `level` (1-based; 0 is the reorder layer below them all).
    fn deliver(&mut self, level: usize, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let Some(h) = level.checked_sub(1).and_then(|i| self.held.get_mut(i)) else {
            self.reorder_input(bytes);
            return;
        };
        let over = if h.holding {
            match h.phase {
                Phase::Head => h.head.extend_from_slice(bytes),
                Phase::Variant => h.variant.extend_from_slice(bytes),
                Phase::Origin => h.origin.extend_from_slice(bytes),
            }
            let limit = self.slots.get(h.slot as usize).map_or(0, |s| s.max_bytes);
            h.bytes() > limit
        } else {
            if h.phase != Phase::Variant {
                self.deliver(level - 1, bytes);
            }
            return;
        };
        if over {
            self.give_up(level);
        }
    }

    /// The slot at `level` keeps the origin content: what it holds of the origin goes on now,
    /// and the rest of its origin content passes through as it comes.
    fn give_up(&mut self, level: usize) {
        let Some(h) = self.held.get_mut(level - 1) else {
            return;
        };
        h.holding = false;
        let head = std::mem::take(&mut h.head);
        let label_at = h.label_at;
        let origin = std::mem::take(&mut h.origin);
        h.variant = Vec::new();
        if let Ok(mut sh) = self.shared.try_borrow_mut() {
            sh.slot_fallbacks += 1;
        }
        self.write_head(level - 1, &head, label_at, "origin");
        self.deliver(level - 1, &origin);
    }

    /// A start tag with its marker's value at `label_at`, to the level below.
    fn write_head(&mut self, below: usize, head: &[u8], label_at: Option<usize>, label: &str) {
        match label_at {
            Some(at) if at <= head.len() => {
                self.deliver(below, &head[..at]);
                self.deliver(below, attribute_text(label).as_bytes());
                self.deliver(below, &head[at..]);
            }
            _ => self.deliver(below, head),
        }
    }

    fn on_slot_mark(&mut self, mark: Mark, index: u32) {
        if mark == Mark::SlotOpen {
            self.held.push(Held {
                slot: index,
                phase: Phase::Head,
                head: Vec::new(),
                label_at: None,
                variant: Vec::new(),
                origin: Vec::new(),
                holding: self.held.len() < MAX_HELD_SLOTS,
            });
            if self.held.len() > MAX_HELD_SLOTS {
                if let Ok(mut sh) = self.shared.try_borrow_mut() {
                    sh.slot_fallbacks += 1;
                }
            }
            return;
        }
        let level = self.held.len();
        let Some(h) = self.held.last_mut().filter(|h| h.slot == index) else {
            return;
        };
        match mark {
            Mark::SlotLabel if h.holding => h.label_at = Some(h.head.len()),
            Mark::SlotLabel => self.deliver(level - 1, attribute_text("origin").as_bytes()),
            Mark::VariantStart => h.phase = Phase::Variant,
            Mark::VariantEnd => h.phase = Phase::Origin,
            Mark::SlotClose => {
                let Some(h) = self.held.pop() else { return };
                if h.holding {
                    let label = self
                        .slots
                        .get(h.slot as usize)
                        .map_or("origin", |s| s.label.as_str());
                    let label = label.to_string();
                    self.write_head(level - 1, &h.head, h.label_at, &label);
                    self.deliver(level - 1, &h.variant);
                }
            }
            _ => {}
        }
    }

    /// Everything held goes out as the origin sent it (bail-out, end of document).
    fn release_all(&mut self) {
        while let Some(h) = self.held.pop() {
            let level = self.held.len();
            if h.holding {
                if let Ok(mut sh) = self.shared.try_borrow_mut() {
                    sh.slot_fallbacks += 1;
                }
                self.write_head(level, &h.head, h.label_at, "origin");
                self.deliver(level, &h.origin);
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Reorder containers

    /// Bytes below every held slot; a decided slot's bytes may carry a container's marks.
    fn reorder_input(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let (piece, rest) = next_piece(data, &self.prefix);
            match piece {
                Piece::Bytes(b) | Piece::Partial(b) => self.emit(b),
                Piece::Mark(mark, index) => self.on_mark(mark, index),
            }
            data = rest;
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
                sh.items.clear();
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
                    // Item indices count from each container's start.
                    if let Ok(mut sh) = self.shared.try_borrow_mut() {
                        sh.items.clear();
                    }
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
            (Mode::Buffer { .. }, _) => {}
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
        if let Some(sh) = sh.as_mut() {
            sh.items.clear();
        }
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

    /// End of the document: anything still held or buffered goes out as it came.
    pub fn finish(&mut self) {
        self.release_all();
        if matches!(self.mode, Mode::Buffer { .. }) {
            if let Ok(mut sh) = self.shared.try_borrow_mut() {
                sh.fallbacks += 1;
            }
        }
        self.flush_origin_order();
        self.sync();
        if !self.carry.is_empty() {
            let carry = std::mem::take(&mut self.carry);
            (self.out)(&carry);
        }
    }
}

/// A marker value as attribute text: the characters of a variant id and a few more as they
/// are, anything else as a character reference (valid in every document encoding).
fn attribute_text(label: &str) -> String {
    let mut out = String::with_capacity(label.len());
    for c in label.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':') {
            out.push(c);
        } else {
            out.push_str(&format!("&#{};", u32::from(c)));
        }
    }
    out
}
