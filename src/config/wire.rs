//! Reading a compiled configuration ([`super::Config::to_compiled`]): the sites in postcard's
//! wire format, which `vitrine compile` writes with serde's derived `Serialize`.
//!
//! Why not `postcard::from_bytes`: serde's derived visitors, instantiated for every field of the
//! compiled model, were 13.8 KB of the edge bundle's gzip size (the edge cap was 350 KB then; SPEC §13) and most
//! of the browser module's config code. The reader below is the same format read field by field
//! through a handful of non-generic primitives. It accepts and rejects exactly what postcard's
//! decoder does (a property test in this module checks both on valid, altered and random
//! bytes), with two additions for bytes from outside: expressions nest at most
//! [`MAX_NESTING`] deep, and no list preallocates more than 1 MiB whatever its length says.
//!
//! The field order below is the declaration order of each type (serde's); a type changed
//! without changing it here fails the round-trip tests.

use std::fmt;

use super::model::{Action, Affinity, EventKind, Pick, Suppress};
use super::pattern::{Part as PatternPart, PathPattern};
use super::template::{Part as TemplatePart, Template};
use super::{
    Consent, Dimension, EventsConfig, Experiment, ItemKey, Limits, PageType, Policy, Privacy, Rank,
    Segment, Signal, Site, Slot, Variant,
};
use crate::expr::{Builtin, CmpOp, EventField, Expr, Literal, Operand, Var};
use crate::leb128::Leb128Error;

/// Deeper nesting than any compiled expression has (the compiler allows 64 levels).
pub const MAX_NESTING: u32 = 128;

/// Why bytes are not a compiled configuration, and where reading stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError {
    pub what: &'static str,
    pub at: usize,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.what, self.at)
    }
}

type Result<T> = std::result::Result<T, WireError>;

/// The compiled sites in `bytes`; bytes after them are ignored, as postcard does.
pub fn read_sites(bytes: &[u8]) -> Result<Vec<Site>> {
    Reader {
        bytes,
        pos: 0,
        depth: 0,
    }
    .read()
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    depth: u32,
}

impl<'a> Reader<'a> {
    fn read<T: Wire>(&mut self) -> Result<T> {
        T::read(self)
    }

    #[inline(never)]
    fn fail<T>(&self, what: &'static str) -> Result<T> {
        Err(WireError { what, at: self.pos })
    }

    #[inline(never)]
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        match self.bytes.get(self.pos..).and_then(|rest| rest.get(..n)) {
            Some(taken) => {
                self.pos += n;
                Ok(taken)
            }
            None => self.fail("unexpected end"),
        }
    }

    fn byte(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    /// A byte that must be 0 or 1 (`bool`, and `Option`'s tag).
    #[inline(never)]
    fn flag(&mut self) -> Result<bool> {
        match self.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => self.fail("flag is neither 0 nor 1"),
        }
    }

    /// A LEB128 integer of at most `bits` bits, as postcard reads it: at most ⌈bits/7⌉ bytes,
    /// and the last of that many carries no bit beyond `bits`.
    #[inline(never)]
    fn varint(&mut self, bits: u32) -> Result<u64> {
        let rest = self.bytes.get(self.pos..).unwrap_or_default();
        match crate::leb128::read(rest, bits) {
            Ok((v, n)) => {
                self.pos += n;
                Ok(v)
            }
            Err((e, n)) => {
                self.pos += n;
                self.fail(match e {
                    Leb128Error::Truncated => "unexpected end",
                    Leb128Error::Malformed => "bad varint",
                })
            }
        }
    }

    /// A length (of a list or a string): a `usize` varint of this platform's width.
    fn len(&mut self) -> Result<usize> {
        Ok(self.varint(usize::BITS)? as usize)
    }

    /// An enum's variant index.
    fn variant(&mut self) -> Result<u32> {
        Ok(self.varint(32)? as u32)
    }

    fn nested<T>(&mut self, read: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        if self.depth >= MAX_NESTING {
            return self.fail("nested too deep");
        }
        self.depth += 1;
        let value = read(self);
        self.depth -= 1;
        value
    }
}

trait Wire: Sized {
    fn read(r: &mut Reader<'_>) -> Result<Self>;
}

impl Wire for bool {
    fn read(r: &mut Reader<'_>) -> Result<Self> {
        r.flag()
    }
}

impl Wire for u8 {
    fn read(r: &mut Reader<'_>) -> Result<Self> {
        r.byte()
    }
}

impl Wire for u16 {
    fn read(r: &mut Reader<'_>) -> Result<Self> {
        Ok(r.varint(16)? as u16)
    }
}

impl Wire for u32 {
    fn read(r: &mut Reader<'_>) -> Result<Self> {
        Ok(r.varint(32)? as u32)
    }
}

/// serde reads a `usize` as a `u64` and then checks that it fits.
impl Wire for usize {
    fn read(r: &mut Reader<'_>) -> Result<Self> {
        let v = r.varint(64)?;
        usize::try_from(v).or_else(|_| r.fail("number too large"))
    }
}

/// Zigzag-encoded.
impl Wire for i32 {
    fn read(r: &mut Reader<'_>) -> Result<Self> {
        let v = r.varint(32)? as u32;
        Ok((v >> 1) as i32 ^ -((v & 1) as i32))
    }
}

impl Wire for f64 {
    fn read(r: &mut Reader<'_>) -> Result<Self> {
        let b = r.take(8)?;
        let mut le = [0u8; 8];
        le.copy_from_slice(b);
        Ok(f64::from_le_bytes(le))
    }
}

impl Wire for String {
    fn read(r: &mut Reader<'_>) -> Result<Self> {
        let n = r.len()?;
        let at = r.pos;
        match std::str::from_utf8(r.take(n)?) {
            Ok(s) => Ok(s.to_string()),
            Err(_) => Err(WireError {
                what: "invalid UTF-8",
                at,
            }),
        }
    }
}

impl<T: Wire> Wire for Option<T> {
    fn read(r: &mut Reader<'_>) -> Result<Self> {
        Ok(if r.flag()? { Some(r.read()?) } else { None })
    }
}

impl<T: Wire> Wire for Vec<T> {
    fn read(r: &mut Reader<'_>) -> Result<Self> {
        let n = r.len()?;
        // As serde: a length from the bytes preallocates at most 1 MiB.
        let cap = n.min((1 << 20) / std::mem::size_of::<T>().max(1));
        let mut out = Vec::with_capacity(cap);
        for _ in 0..n {
            out.push(r.read()?);
        }
        Ok(out)
    }
}

impl<T: Wire> Wire for Box<T> {
    fn read(r: &mut Reader<'_>) -> Result<Self> {
        Ok(Box::new(r.read()?))
    }
}

impl<A: Wire, B: Wire> Wire for (A, B) {
    fn read(r: &mut Reader<'_>) -> Result<Self> {
        Ok((r.read()?, r.read()?))
    }
}

/// A struct's fields in declaration order; `field = value` for those serde skips.
macro_rules! wire_struct {
    ($ty:ident { $($field:ident $(= $skipped:expr)?),* $(,)? }) => {
        impl Wire for $ty {
            fn read(r: &mut Reader<'_>) -> Result<Self> {
                Ok($ty { $($field: wire_struct!(@field r $(, $skipped)?)),* })
            }
        }
    };
    (@field $r:ident) => { $r.read()? };
    (@field $r:ident, $skipped:expr) => { $skipped };
}

/// An enum's variants in declaration order (the variant index is the position), with the types
/// of tuple variants' fields.
macro_rules! wire_enum {
    ($ty:ident { $($variants:tt)+ }) => {
        impl Wire for $ty {
            fn read(r: &mut Reader<'_>) -> Result<Self> {
                wire_enum!(@read r, $ty { $($variants)+ })
            }
        }
    };
    (@read $r:ident, $ty:ident {
        $($variant:ident $(($($field:ty),+))?),+ $(,)?
    }) => {{
        let index = $r.variant()?;
        let mut i = 0;
        $(
            if index == i {
                return Ok($ty::$variant $(($(<$field as Wire>::read($r)?),+))?);
            }
            i += 1;
        )+
        let _ = i;
        $r.fail("unknown variant")
    }};
}

wire_struct!(Site {
    name,
    hosts,
    dimensions,
    page_types,
    signals,
    segments,
    segment_order,
    slots,
    experiments,
    policies,
    privacy,
    limits,
    events,
});
wire_struct!(Dimension {
    name,
    key,
    half_life_secs,
    cap,
    top
});
wire_struct!(PageType {
    pattern,
    kind,
    search_param
});
wire_struct!(Signal {
    on,
    when,
    add,
    add_category
});
wire_struct!(Segment { name, source, expr });
wire_struct!(Slot {
    name,
    key,
    selector = None,
    selector_source,
    action,
    pick,
    variants,
    attribute,
    items,
    items_selector = None,
    rank,
    when,
    max_buffer_bytes,
    cap_per_session,
    cap_per_visitor,
    experiment,
    split_salt,
    policies,
});
wire_struct!(Variant {
    id,
    when,
    html,
    value,
    weight,
    dimension,
    requires_signed,
    policies,
});
wire_struct!(Rank {
    category,
    sku,
    affinity,
    suppress,
    pin,
    bury,
    keys,
    key_sources,
});
wire_struct!(Experiment {
    name,
    slots,
    control_bp
});
wire_struct!(Policy {
    deny,
    target,
    when,
    reason
});
wire_struct!(Privacy {
    honor_gpc,
    state_max_age_secs,
    consent
});
wire_struct!(Consent {
    cookie,
    value,
    exact,
    tcf_cookie,
    tcf_purposes,
    consent_mode
});
wire_struct!(Limits {
    max_events,
    max_event_gain,
    recent_items,
    session_idle_secs,
});
wire_struct!(EventsConfig {
    page_sample_ppm,
    page_query,
    purchases_from_origin
});
wire_struct!(PathPattern { segments });
wire_struct!(ItemKey {
    selector,
    compiled = None,
    attr,
    prefix,
    patterns,
    capture,
});
wire_struct!(Template { source, parts });

wire_enum!(PatternPart { Lit(String), Param(String) });
wire_enum!(TemplatePart { Lit(String), Var(Var) });
wire_enum!(EventKind {
    PageView,
    CategoryView,
    ProductView,
    ProductClick,
    AddToCart,
    Purchase,
    Search,
    Filter,
});
wire_enum!(Action {
    ReplaceInner,
    Replace,
    InsertBefore,
    InsertAfter,
    Prepend,
    Append,
    SetAttribute,
    Remove,
    Reorder,
});
wire_enum!(Pick {
    FirstMatch,
    BestScore,
    Weighted
});
wire_enum!(Affinity { Score, None });
wire_enum!(Suppress {
    Purchased,
    Viewed,
    Carted
});
wire_enum!(Operand { Var(Var), Lit(Literal) });
wire_enum!(Literal {
    Num(f64),
    Str(String),
    Bool(bool)
});
wire_enum!(CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge
});
wire_enum!(Var {
    Builtin(Builtin),
    Score(usize),
    Query(String),
    PageParam(String),
    Segment(usize),
    Event(EventField),
});
/// A built-in name is stored as its place in the one table of them.
impl Wire for Builtin {
    fn read(r: &mut Reader<'_>) -> Result<Self> {
        match Builtin::at(r.variant()? as usize) {
            Some(b) => Ok(b),
            None => r.fail("unknown built-in name"),
        }
    }
}
wire_enum!(EventField {
    Sku,
    Category,
    Price,
    Terms,
    Filter,
    Value
});

/// The only recursive type: its depth is bounded (see [`MAX_NESTING`]).
impl Wire for Expr {
    fn read(r: &mut Reader<'_>) -> Result<Self> {
        r.nested(|r| {
            wire_enum!(@read r, Expr {
                Const(bool), Truthy(Var), Not(Box<Expr>), And(Box<Expr>, Box<Expr>),
                Or(Box<Expr>, Box<Expr>), Cmp(Operand, CmpOp, Operand), In(Var, Vec<Literal>),
                HasAny(Var, Vec<String>), Glob(Var, String),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, DEMO_CONFIG};
    use proptest::prelude::*;

    /// The sites' bytes of a compiled configuration (after the magic and the version).
    fn body(json: &str) -> Vec<u8> {
        let compiled = Config::from_json(json).unwrap().to_compiled();
        let skip = 4 + 1 + usize::from(compiled[4]);
        compiled[skip..].to_vec()
    }

    fn configs() -> Vec<String> {
        let mut out = vec![DEMO_CONFIG.to_string()];
        for path in [
            "tests/edge/origin.config.json",
            "tests/data/rewrite/actions.config.json",
        ] {
            out.push(std::fs::read_to_string(path).unwrap());
        }
        out
    }

    /// What postcard's own decoder makes of the bytes, in the same form as ours.
    fn both(bytes: &[u8]) -> (Option<String>, Option<String>) {
        let ours = read_sites(bytes).ok().map(|s| format!("{s:?}"));
        let postcard = postcard::from_bytes::<Vec<Site>>(bytes)
            .ok()
            .map(|s| format!("{s:?}"));
        (ours, postcard)
    }

    #[test]
    fn reads_what_compile_writes() {
        for json in configs() {
            let (ours, postcard) = both(&body(&json));
            assert!(ours.is_some());
            assert_eq!(ours, postcard);
        }
    }

    #[test]
    fn errors_say_what_and_where() {
        let b = body(DEMO_CONFIG);
        // Cut in half: the read that ran out started at or before the cut.
        let err = read_sites(&b[..b.len() / 2]).unwrap_err();
        assert_eq!(err.what, "unexpected end");
        assert!(err.at <= b.len() / 2 && err.at > b.len() / 2 - 300, "{err}");
        assert_eq!(
            err.to_string(),
            format!("unexpected end at byte {}", err.at)
        );
        // One site whose name is not UTF-8.
        let err = read_sites(&[1, 2, 0xff, 0xfe]).unwrap_err();
        assert_eq!((err.what, err.at), ("invalid UTF-8", 2));
        // A varint longer than a u32 allows (an enum's variant index).
        let mut r = Reader {
            bytes: &[0x80, 0x80, 0x80, 0x80, 0x80, 0x01],
            pos: 0,
            depth: 0,
        };
        assert_eq!(r.read::<Action>().unwrap_err().what, "bad varint");
    }

    #[test]
    fn nesting_is_bounded_without_exhausting_the_stack() {
        // `Not(Not(Not(…)))`, a million deep: rejected at the limit, not by a stack overflow.
        let mut bytes = vec![2u8; 1_000_000];
        bytes.extend([0, 1]);
        let mut r = Reader {
            bytes: &bytes,
            pos: 0,
            depth: 0,
        };
        let err = r.read::<Expr>().unwrap_err();
        assert_eq!(
            (err.what, err.at),
            ("nested too deep", MAX_NESTING as usize)
        );
        // At the limit it reads.
        let mut bytes = vec![2u8; MAX_NESTING as usize - 1];
        bytes.extend([0, 1]);
        let mut r = Reader {
            bytes: &bytes,
            pos: 0,
            depth: 0,
        };
        assert!(r.read::<Expr>().is_ok());
    }

    #[test]
    fn a_huge_length_allocates_nothing_huge() {
        // 2^62 sites announced, none present.
        let bytes = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40];
        assert_eq!(read_sites(&bytes).unwrap_err().what, "unexpected end");
    }

    /// Mostly the bytes that tags, flags and short lengths take.
    fn small_or_any() -> impl Strategy<Value = u8> {
        prop_oneof![3 => 0u8..4, 1 => any::<u8>()]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// Altered compiled configurations: the same sites, or an error, as postcard.
        #[test]
        fn agrees_with_postcard_on_altered_bytes(
            which in 0usize..3,
            edits in proptest::collection::vec((any::<prop::sample::Index>(), small_or_any(), 0u8..3), 1..6),
        ) {
            let mut b = body(&configs()[which]);
            for (at, byte, kind) in edits {
                let i = at.index(b.len());
                match kind {
                    0 => b[i] = byte,
                    1 => b.truncate(i),
                    _ => b.insert(i, byte),
                }
                if b.is_empty() {
                    break;
                }
            }
            let (ours, postcard) = both(&b);
            prop_assert_eq!(ours, postcard);
        }

        /// Each primitive, on bytes rich in varint continuations and boundary values.
        #[test]
        fn primitives_agree_with_postcard(
            bytes in proptest::collection::vec(prop_oneof![0x7cu8..=0x82, 0xfcu8..=0xff, 0u8..4, any::<u8>()], 0..12),
        ) {
            fn check<T: Wire + std::fmt::Debug + for<'de> serde::Deserialize<'de>>(bytes: &[u8]) -> std::result::Result<(), TestCaseError> {
                let mut r = Reader { bytes, pos: 0, depth: 0 };
                let ours = r.read::<T>().ok().map(|v| format!("{v:?}"));
                let postcard = postcard::from_bytes::<T>(bytes).ok().map(|v| format!("{v:?}"));
                prop_assert_eq!(ours, postcard, "{}", std::any::type_name::<T>());
                Ok(())
            }
            check::<bool>(&bytes)?;
            check::<u8>(&bytes)?;
            check::<u16>(&bytes)?;
            check::<u32>(&bytes)?;
            check::<usize>(&bytes)?;
            check::<i32>(&bytes)?;
            check::<f64>(&bytes)?;
            check::<String>(&bytes)?;
            check::<Option<u32>>(&bytes)?;
            check::<Vec<u16>>(&bytes)?;
            check::<(usize, i32)>(&bytes)?;
        }

        #[test]
        fn agrees_with_postcard_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let (ours, postcard) = both(&bytes);
            prop_assert_eq!(ours, postcard);
        }
    }
}
