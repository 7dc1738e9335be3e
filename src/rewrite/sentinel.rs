//! The sentinel codec: how element handlers mark the output stream for the stages after
//! lol_html, which cannot hold output back itself.
//!
//! A sentinel is `\x01vt<nonce:16 hex><kind><index:8 hex>\x01`. The nonce comes from the
//! caller's randomness, so page content cannot forge one; a `\x01` of the page that does not
//! start this nonce's sentinel is content.

/// Bytes in a sentinel.
pub(super) const SENTINEL_LEN: usize = 1 + 2 + 16 + 1 + 8 + 1;
/// Bytes before the kind: `\x01vt` and the nonce.
const PREFIX_LEN: usize = 19;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mark {
    /// Inside a reorder container, first (`index`: the reorder plan).
    ContainerStart,
    /// Inside a reorder container, last (`index`: the container's serial in the item log).
    ContainerEnd,
    /// Before an item (`index`: its place in the item log).
    ItemStart,
    /// After an item.
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

const KINDS: [(Mark, u8); 9] = [
    (Mark::ContainerStart, b'C'),
    (Mark::ContainerEnd, b'c'),
    (Mark::ItemStart, b'I'),
    (Mark::ItemEnd, b'i'),
    (Mark::SlotOpen, b'S'),
    (Mark::SlotLabel, b'L'),
    (Mark::VariantStart, b'V'),
    (Mark::VariantEnd, b'v'),
    (Mark::SlotClose, b's'),
];

impl Mark {
    fn byte(self) -> u8 {
        KINDS
            .iter()
            .find(|(m, _)| *m == self)
            .map_or(b'?', |(_, b)| *b)
    }

    fn from_byte(b: u8) -> Option<Mark> {
        KINDS.iter().find(|(_, k)| *k == b).map(|(m, _)| *m)
    }
}

/// The sentinel text for a mark.
pub(super) fn sentinel(nonce: u64, mark: Mark, index: u32) -> String {
    format!("\x01vt{nonce:016x}{}{index:08x}\x01", mark.byte() as char)
}

/// A piece of the marked stream.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Piece<'a> {
    Bytes(&'a [u8]),
    Mark(Mark, u32),
    /// The start of what may be a sentinel cut by the chunk's end.
    Partial(&'a [u8]),
}

/// Reads one nonce's sentinels out of a stream.
#[derive(Clone)]
pub(super) struct Decoder {
    nonce: u64,
    prefix: [u8; PREFIX_LEN],
}

impl Decoder {
    pub(super) fn new(nonce: u64) -> Decoder {
        let mut prefix = [0u8; PREFIX_LEN];
        prefix[..3].copy_from_slice(b"\x01vt");
        prefix[3..].copy_from_slice(format!("{nonce:016x}").as_bytes());
        Decoder { nonce, prefix }
    }

    pub(super) fn nonce(&self) -> u64 {
        self.nonce
    }

    /// Splits the next piece off `data`.
    pub(super) fn next<'a>(&self, data: &'a [u8]) -> (Piece<'a>, &'a [u8]) {
        let Some(at) = memchr::memchr(0x01, data) else {
            return (Piece::Bytes(data), &[]);
        };
        if at > 0 {
            return (Piece::Bytes(&data[..at]), &data[at..]);
        }
        if data.len() < SENTINEL_LEN {
            let n = data.len().min(PREFIX_LEN);
            if data[..n] == self.prefix[..n] {
                return (Piece::Partial(data), &[]);
            }
        } else if data[..PREFIX_LEN] == self.prefix && data[SENTINEL_LEN - 1] == 0x01 {
            let mark = Mark::from_byte(data[PREFIX_LEN]);
            let index = std::str::from_utf8(&data[PREFIX_LEN + 1..SENTINEL_LEN - 1])
                .ok()
                .and_then(|h| u32::from_str_radix(h, 16).ok());
            if let (Some(mark), Some(index)) = (mark, index) {
                return (Piece::Mark(mark, index), &data[SENTINEL_LEN..]);
            }
        }
        // A lone 0x01 of the page: content.
        (Piece::Bytes(&data[..1]), &data[1..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(d: &Decoder, mut data: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        while !data.is_empty() {
            let (p, rest) = d.next(data);
            out.push(match p {
                Piece::Bytes(b) => format!("b:{}", String::from_utf8_lossy(b)),
                Piece::Mark(m, i) => format!("m:{m:?}:{i}"),
                Piece::Partial(b) => format!("p:{}", b.len()),
            });
            data = rest;
        }
        out
    }

    #[test]
    fn every_mark_round_trips_and_content_stays_content() {
        let d = Decoder::new(0xfeed);
        for (mark, _) in KINDS {
            let s = sentinel(0xfeed, mark, 0xdead_beef);
            assert_eq!(s.len(), SENTINEL_LEN);
            assert_eq!(
                d.next(s.as_bytes()),
                (Piece::Mark(mark, 0xdead_beef), &[][..])
            );
        }
        let text = format!("a\x01b{}c", sentinel(0xfeed, Mark::ItemEnd, 3));
        assert_eq!(
            pieces(&d, text.as_bytes()),
            ["b:a", "b:\x01", "b:b", "m:ItemEnd:3", "b:c"]
        );
    }

    #[test]
    fn another_nonce_or_a_damaged_sentinel_is_content() {
        let d = Decoder::new(1);
        let other = sentinel(2, Mark::SlotOpen, 0);
        // (its closing 0x01, last in the chunk, may yet start a sentinel: partial)
        assert!(!pieces(&d, other.as_bytes())
            .iter()
            .any(|p| p.starts_with("m:")));
        let mut bad = sentinel(1, Mark::SlotOpen, 0).into_bytes();
        bad[SENTINEL_LEN - 2] = b'g'; // not hex
        assert!(!pieces(&d, &bad).iter().any(|p| p.starts_with("m:")));
    }

    #[test]
    fn a_sentinel_cut_by_the_chunk_end_is_partial() {
        let d = Decoder::new(7);
        let s = sentinel(7, Mark::ContainerStart, 1);
        for cut in 1..SENTINEL_LEN {
            let (p, rest) = d.next(&s.as_bytes()[..cut]);
            assert_eq!(p, Piece::Partial(&s.as_bytes()[..cut]), "cut at {cut}");
            assert!(rest.is_empty());
        }
    }
}
