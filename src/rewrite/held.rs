//! The held-slot stage: a replaced slot (`replace_inner`, `replace`, `remove`) is written whole
//! or not at all.
//!
//! lol_html writes the variant *and* leaves the origin content in the stream, each between
//! marks; this stage holds both until the slot ends, then writes the variant. If the slot never
//! ends, outgrows its `max_buffer_bytes`, or lol_html bails out inside it, the origin content
//! goes on instead, and the slot's marker says `origin`. Slots nest (a slot inside a held slot
//! is held inside it), at most [`MAX_HELD_SLOTS`] deep; deeper ones keep the origin content.
//!
//! What this stage lets through goes to the stage below (the reorder stage) as bytes that may
//! still carry a reorder container's sentinels, in their place.

/// Replaced slots held at once (nested in one another); deeper ones keep the origin content.
pub(super) const MAX_HELD_SLOTS: usize = 8;

/// A held slot's marker value and buffer limit.
pub(super) struct SlotPlan {
    pub label: String,
    pub max_bytes: usize,
}

/// What a held slot is collecting.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
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

/// The marks a held slot reads.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum SlotMark {
    Open,
    Label,
    VariantStart,
    VariantEnd,
    Close,
}

/// The stage's state: the slots being held, innermost last.
pub(super) struct HeldSlots {
    plans: Vec<SlotPlan>,
    held: Vec<Held>,
    /// Replaced slots left as the origin sent them (limit, depth, unended, bail-out).
    pub fallbacks: u32,
    /// The same, per held slot (plan index): the decision of such a slot did not take effect.
    pub kept: Vec<u32>,
}

impl HeldSlots {
    pub(super) fn new(plans: Vec<SlotPlan>) -> HeldSlots {
        HeldSlots {
            kept: vec![0; plans.len()],
            plans,
            held: Vec::new(),
            fallbacks: 0,
        }
    }

    /// Slot `slot` (plan index) keeps the origin content.
    fn fell_back(&mut self, slot: u32) {
        self.fallbacks += 1;
        if let Some(n) = self.kept.get_mut(slot as usize) {
            *n += 1;
        }
    }

    /// Whether a slot is being held (bytes then go to [`HeldSlots::hold`]).
    pub(super) fn holding(&self) -> bool {
        !self.held.is_empty()
    }

    /// Bytes into the innermost held slot.
    pub(super) fn hold(&mut self, bytes: &[u8], below: &mut dyn FnMut(&[u8])) {
        self.deliver(self.held.len(), bytes, below);
    }

    /// Bytes to the held slot at `level` (1-based; 0 is the stage below).
    fn deliver(&mut self, level: usize, bytes: &[u8], below: &mut dyn FnMut(&[u8])) {
        if bytes.is_empty() {
            return;
        }
        let Some(h) = level.checked_sub(1).and_then(|i| self.held.get_mut(i)) else {
            below(bytes);
            return;
        };
        if !h.holding {
            if h.phase != Phase::Variant {
                self.deliver(level - 1, bytes, below);
            }
            return;
        }
        match h.phase {
            Phase::Head => h.head.extend_from_slice(bytes),
            Phase::Variant => h.variant.extend_from_slice(bytes),
            Phase::Origin => h.origin.extend_from_slice(bytes),
        }
        let limit = self.plans.get(h.slot as usize).map_or(0, |s| s.max_bytes);
        if h.bytes() > limit {
            self.give_up(level, below);
        }
    }

    /// The slot at `level` keeps the origin content: what it holds of the origin goes on now,
    /// and the rest of its origin content passes through as it comes.
    fn give_up(&mut self, level: usize, below: &mut dyn FnMut(&[u8])) {
        let Some(h) = self.held.get_mut(level - 1) else {
            return;
        };
        h.holding = false;
        let head = std::mem::take(&mut h.head);
        let label_at = h.label_at;
        let origin = std::mem::take(&mut h.origin);
        h.variant = Vec::new();
        let slot = h.slot;
        self.fell_back(slot);
        self.write_head(level - 1, &head, label_at, "origin", below);
        self.deliver(level - 1, &origin, below);
    }

    /// A start tag with its marker's value at `label_at`, to the level below.
    fn write_head(
        &mut self,
        level: usize,
        head: &[u8],
        label_at: Option<usize>,
        label: &str,
        below: &mut dyn FnMut(&[u8]),
    ) {
        match label_at {
            Some(at) if at <= head.len() => {
                self.deliver(level, &head[..at], below);
                self.deliver(level, attribute_text(label).as_bytes(), below);
                self.deliver(level, &head[at..], below);
            }
            _ => self.deliver(level, head, below),
        }
    }

    /// A mark of held slot `index`.
    pub(super) fn mark(&mut self, mark: SlotMark, index: u32, below: &mut dyn FnMut(&[u8])) {
        if mark == SlotMark::Open {
            let holding = self.held.len() < MAX_HELD_SLOTS;
            if !holding {
                self.fell_back(index);
            }
            self.held.push(Held {
                slot: index,
                phase: Phase::Head,
                head: Vec::new(),
                label_at: None,
                variant: Vec::new(),
                origin: Vec::new(),
                holding,
            });
            return;
        }
        let level = self.held.len();
        let Some(h) = self.held.last_mut().filter(|h| h.slot == index) else {
            return;
        };
        match mark {
            SlotMark::Label if h.holding => h.label_at = Some(h.head.len()),
            SlotMark::Label => self.deliver(level - 1, attribute_text("origin").as_bytes(), below),
            SlotMark::VariantStart => h.phase = Phase::Variant,
            SlotMark::VariantEnd => h.phase = Phase::Origin,
            SlotMark::Close => {
                let Some(h) = self.held.pop() else { return };
                if h.holding {
                    let label = self
                        .plans
                        .get(h.slot as usize)
                        .map_or("origin", |s| s.label.as_str())
                        .to_string();
                    self.write_head(level - 1, &h.head, h.label_at, &label, below);
                    self.deliver(level - 1, &h.variant, below);
                }
            }
            SlotMark::Open => {}
        }
    }

    /// Everything held goes on as the origin sent it (bail-out, end of document).
    pub(super) fn release_all(&mut self, below: &mut dyn FnMut(&[u8])) {
        while let Some(h) = self.held.pop() {
            let level = self.held.len();
            if h.holding {
                self.fell_back(h.slot);
                self.write_head(level, &h.head, h.label_at, "origin", below);
                self.deliver(level, &h.origin, below);
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// One event of a slot's stream: bytes or a mark of slot 0 (or 1).
    #[derive(Clone)]
    enum Ev {
        B(&'static str),
        M(SlotMark, u32),
    }
    use Ev::{B, M};
    use SlotMark::*;

    fn run(plans: &[(&str, usize)], events: &[Ev], end: bool) -> (String, u32) {
        let plans = plans
            .iter()
            .map(|(label, max)| SlotPlan {
                label: label.to_string(),
                max_bytes: *max,
            })
            .collect();
        let mut stage = HeldSlots::new(plans);
        let mut out = Vec::new();
        let mut below = |b: &[u8]| out.extend_from_slice(b);
        for e in events {
            match e {
                B(text) if stage.holding() => stage.hold(text.as_bytes(), &mut below),
                B(text) => below(text.as_bytes()),
                M(m, i) => stage.mark(*m, *i, &mut below),
            }
        }
        if end {
            stage.release_all(&mut below);
        }
        (String::from_utf8(out).unwrap(), stage.fallbacks)
    }

    /// A replace_inner slot as the handler marks it: `<div` LABEL `>` START variant END origin
    /// CLOSE `</div>`.
    fn slot(index: u32, variant: &'static str, origin: &'static str) -> Vec<Ev> {
        vec![
            M(Open, index),
            B("<div x"),
            M(Label, index),
            B(">"),
            M(VariantStart, index),
            B(variant),
            M(VariantEnd, index),
            B(origin),
            M(Close, index),
            B("</div>"),
        ]
    }

    #[test]
    fn a_slot_that_ends_shows_its_variant_and_one_that_does_not_its_origin() {
        let events = [vec![B("a")], slot(0, "NEW", "old"), vec![B("b")]].concat();
        assert_eq!(
            run(&[("v1", 100)], &events, true),
            ("a<div xv1>NEW</div>b".into(), 0)
        );
        let cut = &events[..9]; // no Close: the document ended inside the slot
        assert_eq!(
            run(&[("v1", 100)], cut, true),
            ("a<div xorigin>old".into(), 1)
        );
    }

    #[test]
    fn a_slot_over_its_limit_keeps_the_origin_and_the_rest_passes_through() {
        let events = slot(0, "NEW", "old content that is long");
        assert_eq!(
            run(&[("v1", 12)], &events, true),
            ("<div xorigin>old content that is long</div>".into(), 1)
        );
    }

    #[test]
    fn slots_nest_and_the_inner_one_is_decided_inside_the_outer() {
        let inner = slot(1, "I", "i");
        let events = [
            vec![
                M(Open, 0),
                B("<p y"),
                M(Label, 0),
                B(">"),
                M(VariantStart, 0),
                B("O"),
            ],
            vec![M(VariantEnd, 0)],
            inner,
            vec![M(Close, 0), B("</p>")],
        ]
        .concat();
        assert_eq!(
            run(&[("o", 100), ("i", 100)], &events, true),
            ("<p yo>O</p>".into(), 0)
        );
    }

    #[test]
    fn deeper_than_the_limit_keeps_the_origin() {
        let mut events = Vec::new();
        for i in 0..=MAX_HELD_SLOTS as u32 {
            events.extend([
                M(Open, i),
                B("<"),
                M(Label, i),
                B(">"),
                M(VariantStart, i),
                B("v"),
            ]);
            events.push(M(VariantEnd, i));
        }
        for i in (0..=MAX_HELD_SLOTS as u32).rev() {
            events.extend([B("o"), M(Close, i), B("/")]);
        }
        let plans: Vec<(&str, usize)> = vec![("x", 1000); MAX_HELD_SLOTS + 1];
        let (out, fallbacks) = run(&plans, &events, true);
        assert_eq!(fallbacks, 1, "the ninth slot");
        assert!(out.starts_with("<x>v"), "{out}");
    }
}
