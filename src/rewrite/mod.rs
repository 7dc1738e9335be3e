//! Decisions → streaming HTML edits on lol_html: the only code that touches HTML.
//!
//! One streaming type, [`Rewriter`] (write chunks, get output through a closure), and one
//! one-shot function, [`rewrite_str`]. Outside the slots it touches, output is byte-identical to
//! the input whatever the chunking. Rewriting never fails: after any error of lol_html's (a
//! handler error, the memory limit), the rest of the input passes through unchanged.
//!
//! Every slot the plan decides gets a marker attribute, `data-vt-applied="<variant>"` (or
//! `reorder`, `origin`, `control`), for the browser module and analytics; `replace` and
//! `remove` take the element away, marker included.
//!
//! Data flows one way: the element handlers write the item log (`items`) and mark the output
//! with sentinels (`sentinel`); the output stream (`stream`) reads both, through the
//! held-slot stage (`held`) and the reorder stage (`reorder`), and writes nothing back.

mod held;
mod items;
mod reorder;
mod sentinel;
mod stream;

use std::borrow::Cow;
use std::cell::RefCell;
use std::rc::Rc;

use lol_html::html_content::{ContentType, Element};
use lol_html::{
    AsciiCompatibleEncoding, ElementContentHandlers, HandlerResult, HtmlRewriter, MemorySettings,
    Settings,
};

use crate::config::ItemKey;
use crate::config::{Action, Site, Slot};
use crate::decide::{Choice, Decisions, OnPage, RankPlan};
use held::SlotPlan;
use items::{Item, ItemLog, Key};
use sentinel::{sentinel, Mark};
use stream::Stream;

/// Marker attribute on every slot the edge decided.
pub const APPLIED_ATTR: &str = "data-vt-applied";
/// lol_html's own memory ceiling per rewrite (tokens, not the page).
const MAX_PARSER_MEMORY: usize = 4 * 1024 * 1024;

/// The edits of one request.
#[derive(Debug, Clone)]
pub struct RewritePlan<'s> {
    ops: Vec<Op<'s>>,
    nonce: u64,
}

#[derive(Debug, Clone)]
enum Op<'s> {
    /// Apply a variant's content with the slot's action.
    Variant {
        slot: &'s Slot,
        label: &'s str,
        content: Cow<'s, str>,
    },
    /// Reorder the slot's items.
    Reorder { slot: &'s Slot, plan: RankPlan<'s> },
    /// Only mark the slot as decided (origin content or control arm).
    Mark { slot: &'s Slot, label: &'s str },
}

impl<'s> RewritePlan<'s> {
    /// The edits for a request's decisions. `nonce` must be unpredictable to page authors
    /// (it tags the reorder sentinels).
    pub fn new(site: &'s Site, decisions: &Decisions<'s>, nonce: u64) -> RewritePlan<'s> {
        let ops = decisions
            .slots
            .iter()
            .map(|d| {
                let slot = &site.slots[d.slot];
                match &d.choice {
                    Choice::Variant(_) => Op::Variant {
                        slot,
                        label: d.shown().label(),
                        content: d.content.clone().unwrap_or(Cow::Borrowed("")),
                    },
                    Choice::Reorder(plan) => Op::Reorder {
                        slot,
                        plan: plan.clone(),
                    },
                    Choice::Origin => Op::Mark {
                        slot,
                        label: d.shown().label(),
                    },
                }
            })
            .collect();
        RewritePlan { ops, nonce }
    }
}

/// What happened during a rewrite.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RewriteStats {
    /// lol_html's error, when it bailed out and the rest passed through unchanged.
    pub bailed_out: Option<String>,
    /// Containers reordered.
    pub reordered: u32,
    /// Containers left in origin order (buffer limit, unbalanced markup).
    pub fallbacks: u32,
    /// Replaced slots left as the origin sent them (never ended, over the buffer limit, or
    /// lol_html bailed out inside them).
    pub slot_fallbacks: u32,
    /// Per decided slot, in the decisions' order: what the page held and got.
    pub slots: Vec<OnPage>,
}

/// Elements each op's selector matched, counted by its handlers.
type Found = Rc<RefCell<Vec<u32>>>;

fn count(found: &Found, op: usize) {
    if let Some(n) = found
        .try_borrow_mut()
        .ok()
        .as_mut()
        .and_then(|f| f.get_mut(op))
    {
        *n += 1;
    }
}

type SharedStream<'s> = Rc<RefCell<Stream<'s>>>;
/// lol_html's output goes through this closure into the output stream.
type Forward<'s> = Box<dyn FnMut(&[u8]) + 's>;

/// A streaming rewriter: `write` chunks as they arrive, `end` once; output goes to `out`.
///
/// It borrows only the site (`'s`): per-request content is copied into its handlers, so a
/// rewriter can outlive the plan it was built from (the edge's response stream needs that).
pub struct Rewriter<'s, O: FnMut(&[u8]) + 's> {
    core: Core<'s>,
    /// The output closure's type (boxed in the stream: the rewriter is compiled once).
    output: std::marker::PhantomData<O>,
}

/// The rewriter without its output closure's type.
struct Core<'s> {
    inner: Option<HtmlRewriter<'s, Forward<'s>>>,
    stream: SharedStream<'s>,
    bailed_out: Option<String>,
    found: Found,
    /// Per op: its reorder plan's index, and its held slot's.
    reorder_of: Vec<Option<usize>>,
    held_of: Vec<Option<usize>>,
}

fn applied(el: &mut Element<'_, '_>, label: &str) {
    // NOTE: the attribute name is a constant, so this cannot fail; an error would be ignored.
    let _ = el.set_attribute(APPLIED_ATTR, label);
}

/// The document encoding a `Content-Type` value declares ([`Charset::of_content_type`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    /// A `charset` parameter naming an encoding lol_html rewrites (any ASCII-compatible one).
    Declared(AsciiCompatibleEncoding),
    /// No charset, or a label no encoding has: UTF-8 unless a `<meta>` says otherwise.
    Undeclared,
    /// UTF-16, ISO-2022-JP or `replacement`: the page cannot be rewritten.
    Unsupported,
}

impl Charset {
    /// The `charset` parameter of a media type (`text/html; charset="Shift_JIS"`).
    pub fn of_content_type(content_type: &str) -> Charset {
        let label = content_type.split(';').skip(1).find_map(|param| {
            let (name, value) = param.split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("charset")
                .then(|| value.trim().trim_matches('"'))
        });
        match label.and_then(|l| encoding_rs::Encoding::for_label(l.as_bytes())) {
            None => Charset::Undeclared,
            Some(enc) => {
                AsciiCompatibleEncoding::new(enc).map_or(Charset::Unsupported, Charset::Declared)
            }
        }
    }
}

impl<'s, O: FnMut(&[u8]) + 's> Rewriter<'s, O> {
    /// A rewriter for a document of undeclared encoding: UTF-8, unless a `<meta charset>` in
    /// the document names another.
    pub fn new(plan: &RewritePlan<'s>, out: O) -> Rewriter<'s, O> {
        Rewriter::with_charset(plan, Charset::Undeclared, out).unwrap_or_else(|out| {
            // NOTE: unreachable: only `Charset::Unsupported` is refused.
            Rewriter::with_encoding(plan, AsciiCompatibleEncoding::utf_8(), true, out)
        })
    }

    /// A rewriter for a document of the given encoding. Content from the configuration is
    /// written in that encoding; characters it cannot hold become character references
    /// (`&#8364;`). `Err` gives `out` back for an encoding lol_html cannot rewrite.
    pub fn with_charset(
        plan: &RewritePlan<'s>,
        charset: Charset,
        out: O,
    ) -> Result<Rewriter<'s, O>, O> {
        match charset {
            Charset::Declared(enc) => Ok(Rewriter::with_encoding(plan, enc, false, out)),
            Charset::Undeclared => Ok(Rewriter::with_encoding(
                plan,
                AsciiCompatibleEncoding::utf_8(),
                true,
                out,
            )),
            Charset::Unsupported => Err(out),
        }
    }

    /// The handlers write the item log and mark the output; the output stream reads both.
    fn with_encoding(
        plan: &RewritePlan<'s>,
        encoding: AsciiCompatibleEncoding,
        meta_decides: bool,
        out: O,
    ) -> Rewriter<'s, O> {
        Rewriter {
            core: Core::build(plan, encoding, meta_decides, Box::new(out)),
            output: std::marker::PhantomData,
        }
    }

    /// Rewrites a chunk. Never fails: after a bail-out, input passes through unchanged.
    pub fn write(&mut self, chunk: &[u8]) {
        self.core.write(chunk);
    }

    /// Finishes the document.
    pub fn end(self) -> RewriteStats {
        self.core.end()
    }
}

impl<'s> Core<'s> {
    fn build(
        plan: &RewritePlan<'s>,
        encoding: AsciiCompatibleEncoding,
        meta_decides: bool,
        out: stream::Output<'s>,
    ) -> Core<'s> {
        let log = Rc::new(RefCell::new(ItemLog::default()));
        let reorders: Vec<(RankPlan<'s>, usize)> = plan
            .ops
            .iter()
            .filter_map(|op| match op {
                Op::Reorder { slot, plan } => Some((plan.clone(), slot.max_buffer_bytes as usize)),
                _ => None,
            })
            .collect();
        // Replaced slots are held until they end (see `held`): one plan per such op.
        let held: Vec<SlotPlan> = plan
            .ops
            .iter()
            .filter_map(|op| match op {
                Op::Variant { slot, label, .. } if held_action(slot.action) => Some(SlotPlan {
                    label: label.to_string(),
                    max_bytes: slot.max_buffer_bytes as usize,
                }),
                _ => None,
            })
            .collect();
        let stream = Rc::new(RefCell::new(Stream::new(
            out,
            plan.nonce,
            reorders,
            held,
            log.clone(),
        )));
        let mut settings = parser_settings(encoding, meta_decides);
        let nonce = plan.nonce;
        let found: Found = Rc::new(RefCell::new(vec![0; plan.ops.len()]));
        let mut reorder_of = Vec::with_capacity(plan.ops.len());
        let mut held_of = Vec::with_capacity(plan.ops.len());
        let (mut reorder_index, mut held_index) = (0u32, 0u32);
        for (at, op) in plan.ops.iter().enumerate() {
            let (Op::Variant { slot, .. } | Op::Mark { slot, .. } | Op::Reorder { slot, .. }) = op;
            let held_slot = match op {
                Op::Variant { slot, .. } if held_action(slot.action) => {
                    held_index += 1;
                    Some(held_index - 1)
                }
                _ => None,
            };
            let reorder = matches!(op, Op::Reorder { .. }).then(|| {
                reorder_index += 1;
                reorder_index - 1
            });
            reorder_of.push(reorder.map(|r| r as usize));
            held_of.push(held_slot.map(|h| h as usize));
            // Compiled at load; absent only if a compiled config could not be relinked.
            let Some(selector) = slot.selector.as_ref() else {
                continue;
            };
            let on = |handler| (Cow::Borrowed(selector), handler);
            let found = (found.clone(), at);
            match op {
                Op::Variant {
                    slot,
                    label,
                    content,
                } => {
                    let handler =
                        variant_handler(slot, label, content.clone(), held_slot, nonce, found);
                    settings = settings.append_element_content_handler(on(handler));
                }
                Op::Mark { label, .. } => {
                    settings =
                        settings.append_element_content_handler(on(mark_handler(label, found)));
                }
                Op::Reorder { slot, plan: rank } => {
                    let index = reorder.unwrap_or_default();
                    let container = container_handler(slot, index, nonce, &log, found);
                    settings = settings.append_element_content_handler(on(container));
                    settings = item_handlers(settings, slot, rank, index, nonce, &log);
                }
            }
        }
        let forward = stream.clone();
        let output: Forward<'s> = Box::new(move |chunk: &[u8]| {
            if let Ok(mut s) = forward.try_borrow_mut() {
                s.write(chunk);
            }
        });
        Core {
            inner: Some(HtmlRewriter::new(settings, output)),
            stream,
            bailed_out: None,
            found,
            reorder_of,
            held_of,
        }
    }

    fn write(&mut self, chunk: &[u8]) {
        if let Some(inner) = &mut self.inner {
            if let Err(e) = inner.write(chunk) {
                // lol_html flushed the unparsed input; it is poisoned from here on.
                self.bailed_out = Some(e.to_string());
                self.inner = None;
            }
            return;
        }
        if let Ok(mut s) = self.stream.try_borrow_mut() {
            s.passthrough(chunk);
        }
    }

    fn end(mut self) -> RewriteStats {
        if let Some(inner) = self.inner.take() {
            if let Err(e) = inner.end() {
                self.bailed_out = Some(e.to_string());
            }
        }
        let stats = self
            .stream
            .try_borrow_mut()
            .map(|mut s| s.finish())
            .unwrap_or_default();
        let found = self
            .found
            .try_borrow()
            .map(|f| f.clone())
            .unwrap_or_default();
        let slots = self
            .reorder_of
            .iter()
            .zip(&self.held_of)
            .enumerate()
            .map(|(op, (reorder, held))| {
                let plan = reorder.and_then(|r| stats.outcomes.get(r)).copied();
                let plan = plan.unwrap_or_default();
                OnPage {
                    found: found.get(op).copied().unwrap_or_default(),
                    items: plan.items,
                    keyed: plan.keyed,
                    reordered: plan.reordered,
                    kept: held
                        .and_then(|h| stats.kept.get(h))
                        .copied()
                        .unwrap_or_default(),
                }
            })
            .collect();
        RewriteStats {
            bailed_out: self.bailed_out.take(),
            reordered: stats.reordered,
            fallbacks: stats.fallbacks,
            slot_fallbacks: stats.slot_fallbacks,
            slots,
        }
    }
}

type Handlers<'s> = ElementContentHandlers<'s>;

/// lol_html's settings: lenient parsing in the document's encoding, and a graceful bail-out
/// (the rest passes through) on a handler error or past the parser's memory limit.
fn parser_settings<'h, 's>(
    encoding: AsciiCompatibleEncoding,
    meta_decides: bool,
) -> Settings<'h, 's> {
    Settings::new()
        .with_strict(false)
        .with_encoding(encoding)
        .with_adjust_charset_on_meta_tag(meta_decides)
        .with_graceful_bail_out_on_content_handler_error(true)
        .with_memory_settings(
            MemorySettings::new()
                .with_max_allowed_memory_usage(MAX_PARSER_MEMORY)
                .with_graceful_bail_out_on_memory_limit_exceeded(true),
        )
}

/// A variant's element handler: a held slot's variant and origin content both stay in the
/// stream, between marks, for the held-slot stage to write one of them; other actions edit
/// the element directly.
fn variant_handler<'s>(
    slot: &'s Slot,
    label: &'s str,
    content: Cow<'s, str>,
    held_slot: Option<u32>,
    nonce: u64,
    (found, op): (Found, usize),
) -> Handlers<'s> {
    let (action, attr) = (slot.action, slot.attribute.as_deref());
    let held = held_slot.map(|index| {
        let mark = |m| sentinel(nonce, m, index);
        [
            mark(Mark::SlotOpen),
            mark(Mark::SlotLabel),
            mark(Mark::VariantStart),
            mark(Mark::VariantEnd),
            mark(Mark::SlotClose),
        ]
    });
    ElementContentHandlers::default().element(move |el: &mut Element<'_, '_>| -> HandlerResult {
        count(&found, op);
        let content: &str = &content;
        let inner = el.can_have_content() && !el.is_self_closing();
        match (&held, action) {
            (Some([open, label, start, end, close]), Action::ReplaceInner) if inner => {
                el.before(open, ContentType::Html);
                let _ = el.set_attribute(APPLIED_ATTR, label);
                el.prepend(end, ContentType::Html);
                el.prepend(content, ContentType::Html);
                el.prepend(start, ContentType::Html);
                el.append(close, ContentType::Html);
                return Ok(());
            }
            (Some([open, _, start, end, close]), Action::Replace | Action::Remove) => {
                let content = if action == Action::Remove {
                    ""
                } else {
                    content
                };
                el.before(open, ContentType::Html);
                el.before(start, ContentType::Html);
                el.before(content, ContentType::Html);
                el.before(end, ContentType::Html);
                el.after(close, ContentType::Html);
                return Ok(());
            }
            _ => {}
        }
        match action {
            Action::ReplaceInner => el.set_inner_content(content, ContentType::Html),
            Action::Replace => el.replace(content, ContentType::Html),
            Action::InsertBefore => el.before(content, ContentType::Html),
            Action::InsertAfter => el.after(content, ContentType::Html),
            Action::Prepend => el.prepend(content, ContentType::Html),
            Action::Append => el.append(content, ContentType::Html),
            Action::SetAttribute => {
                let _ = el.set_attribute(attr.unwrap_or(APPLIED_ATTR), content);
            }
            Action::Remove => el.remove(),
            Action::Reorder => {}
        }
        if !matches!(action, Action::Replace | Action::Remove) {
            applied(el, label);
        }
        Ok(())
    })
}

/// A slot left as the origin sent it: only its marker.
fn mark_handler(label: &str, (found, op): (Found, usize)) -> Handlers<'_> {
    ElementContentHandlers::default().element(move |el: &mut Element<'_, '_>| -> HandlerResult {
        count(&found, op);
        applied(el, label);
        Ok(())
    })
}

/// A reorder container: opens its items' log (an outermost one starts a new log, numbered by
/// its serial) and marks its start in its marker's value (the reorder stage writes `reorder`
/// or `origin` there once it knows) and its end (with the serial); its end tag closes it in
/// the log.
fn container_handler<'s>(
    slot: &'s Slot,
    plan: u32,
    nonce: u64,
    log: &Rc<RefCell<ItemLog>>,
    (found, op): (Found, usize),
) -> Handlers<'s> {
    let (log, limit) = (log.clone(), slot.max_buffer_bytes as usize);
    let start = sentinel(nonce, Mark::ContainerStart, plan);
    ElementContentHandlers::default().element(move |el: &mut Element<'_, '_>| -> HandlerResult {
        count(&found, op);
        if !el.can_have_content() || el.is_self_closing() {
            return Ok(());
        }
        let Ok(serial) = log
            .try_borrow_mut()
            .map(|mut l| l.open_container(plan, limit))
        else {
            return Ok(());
        };
        applied(el, &start);
        el.append(
            &sentinel(nonce, Mark::ContainerEnd, serial),
            ContentType::Html,
        );
        let log = log.clone();
        el.on_end_tag(Box::new(move |_| {
            if let Ok(mut l) = log.try_borrow_mut() {
                l.close_container();
            }
            Ok(())
        }))
    })
}

/// An item's keys read from its own attributes (the keys read from a descendant are `None`
/// here: [`descendant_handler`] fills them in).
fn own_key(key: &ItemKey, el: &Element<'_, '_>) -> Option<String> {
    if key.selector.is_some() {
        return None;
    }
    key.read(&el.get_attribute(&key.attr)?)
}

/// An item of a reorder container: its own keys into the log, its place in the log around it.
fn item_handler<'s>(rank: &RankPlan<'s>, nonce: u64, log: &Rc<RefCell<ItemLog>>) -> Handlers<'s> {
    let rank = rank.rank;
    let log = log.clone();
    ElementContentHandlers::default().element(move |el: &mut Element<'_, '_>| -> HandlerResult {
        if el.is_self_closing() || !el.can_have_content() {
            return Ok(());
        }
        let item = Item {
            sku: own_key(&rank.sku, el),
            category: own_key(&rank.category, el),
        };
        // Only an open container's items are recorded, within its limit (see `items`).
        let tag_bytes = el.source_location().bytes().len();
        let Some(index) = log
            .try_borrow_mut()
            .ok()
            .and_then(|mut l| l.record(item, tag_bytes))
        else {
            return Ok(());
        };
        el.before(&sentinel(nonce, Mark::ItemStart, index), ContentType::Html);
        el.after(&sentinel(nonce, Mark::ItemEnd, index), ContentType::Html);
        let log = log.clone();
        el.on_end_tag(Box::new(move |_| {
            if let Ok(mut l) = log.try_borrow_mut() {
                l.end_item(index);
            }
            Ok(())
        }))
    })
}

/// An element that may carry a key of the current item of a container of plan `plan` (the
/// log keeps it if the item has none yet).
fn descendant_handler<'s>(
    key: &'s ItemKey,
    which: Key,
    plan: u32,
    log: &Rc<RefCell<ItemLog>>,
) -> Handlers<'s> {
    let log = log.clone();
    ElementContentHandlers::default().element(move |el: &mut Element<'_, '_>| -> HandlerResult {
        let Some(value) = el.get_attribute(&key.attr).and_then(|v| key.read(&v)) else {
            return Ok(());
        };
        let tag_bytes = el.source_location().bytes().len();
        if let Ok(mut l) = log.try_borrow_mut() {
            l.descendant_key(plan, which, value, tag_bytes);
        }
        Ok(())
    })
}

/// A reorder slot's item handlers: the items', and the descendants' that carry their keys.
fn item_handlers<'s>(
    mut settings: Settings<'s, 's>,
    slot: &'s Slot,
    rank: &RankPlan<'s>,
    plan: u32,
    nonce: u64,
    log: &Rc<RefCell<ItemLog>>,
) -> Settings<'s, 's> {
    if let Some(items) = &slot.items_selector {
        let handler = item_handler(rank, nonce, log);
        settings = settings.append_element_content_handler((Cow::Borrowed(items), handler));
    }
    for (key, which) in [
        (&rank.rank.category, Key::Category),
        (&rank.rank.sku, Key::Sku),
    ] {
        if let Some(sel) = &key.compiled {
            let handler = descendant_handler(key, which, plan, log);
            settings = settings.append_element_content_handler((Cow::Borrowed(sel), handler));
        }
    }
    settings
}

/// Actions whose slot is held until it ends, so that it is replaced whole or not at all.
fn held_action(action: Action) -> bool {
    matches!(
        action,
        Action::ReplaceInner | Action::Replace | Action::Remove
    )
}

/// Rewrites a whole document at once.
pub fn rewrite_str(plan: &RewritePlan<'_>, html: &str) -> (String, RewriteStats) {
    let (out, stats) = rewrite_bytes(plan, html.as_bytes());
    (
        String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        stats,
    )
}

/// Rewrites a whole UTF-8 document held as bytes (no check that it is UTF-8: the rewriter
/// passes what it does not touch through byte for byte).
pub fn rewrite_bytes(plan: &RewritePlan<'_>, html: &[u8]) -> (Vec<u8>, RewriteStats) {
    // NOTE: an undeclared charset is never refused.
    rewrite_whole(plan, Charset::Undeclared, html)
        .unwrap_or_else(|| (html.to_vec(), RewriteStats::default()))
}

/// Rewrites a whole document of the given charset; `None` for a charset lol_html cannot
/// rewrite.
pub fn rewrite_whole(
    plan: &RewritePlan<'_>,
    charset: Charset,
    html: &[u8],
) -> Option<(Vec<u8>, RewriteStats)> {
    let mut out = Vec::with_capacity(html.len() + 256);
    let stats = {
        let mut rw =
            Rewriter::with_charset(plan, charset, |c: &[u8]| out.extend_from_slice(c)).ok()?;
        rw.write(html);
        rw.end()
    };
    Some((out, stats))
}
