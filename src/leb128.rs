//! Unsigned LEB128 integers (seven bits a byte, low bits first, the high bit set while more
//! follow): the varints of the state and traits cookies and of the compiled configuration
//! (postcard's). One writer, one reader.

/// Why a varint could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leb128Error {
    /// The bytes ended first.
    Truncated,
    /// Longer than its width allows, or bits beyond it.
    Malformed,
}

/// Appends `v`.
pub fn write(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads a varint of at most `bits` bits (1–64) from the front of `bytes`, as postcard does: at
/// most ⌈bits/7⌉ bytes, the last of that many carrying no bit beyond `bits`. Returns the value
/// and the bytes it took, or why not and the bytes it looked at.
pub fn read(bytes: &[u8], bits: u32) -> Result<(u64, usize), (Leb128Error, usize)> {
    let max_bytes = bits.div_ceil(7) as usize;
    let mut out = 0u64;
    for i in 0..max_bytes {
        let Some(&b) = bytes.get(i) else {
            return Err((Leb128Error::Truncated, i));
        };
        out |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            let last = i == max_bytes - 1;
            if last && u32::from(b) >> (bits - 7 * i as u32) != 0 {
                return Err((Leb128Error::Malformed, i + 1));
            }
            return Ok((out, i + 1));
        }
    }
    Err((Leb128Error::Malformed, max_bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn widths_are_enforced() {
        assert_eq!(
            read(&[0xff, 0xff, 0xff, 0xff, 0x0f], 32),
            Ok((u64::from(u32::MAX), 5))
        );
        assert_eq!(
            read(&[0xff, 0xff, 0xff, 0xff, 0x10], 32),
            Err((Leb128Error::Malformed, 5))
        );
        assert_eq!(
            read(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x01], 32),
            Err((Leb128Error::Malformed, 5))
        );
        assert_eq!(read(&[0x80, 0x80], 32), Err((Leb128Error::Truncated, 2)));
        assert_eq!(read(&[], 8), Err((Leb128Error::Truncated, 0)));
        assert_eq!(read(&[0x7f], 7), Ok((127, 1)));
        assert_eq!(read(&[0xff, 0x01], 8), Ok((255, 2)));
        assert_eq!(read(&[0xff, 0x02], 8), Err((Leb128Error::Malformed, 2)));
    }

    proptest! {
        #[test]
        fn what_is_written_reads_back(v in any::<u64>(), tail in proptest::collection::vec(any::<u8>(), 0..4)) {
            let mut out = Vec::new();
            write(&mut out, v);
            let n = out.len();
            out.extend(tail);
            prop_assert_eq!(read(&out, 64), Ok((v, n)));
            if let Ok(small) = u32::try_from(v) {
                prop_assert_eq!(read(&out, 32), Ok((u64::from(small), n)));
            } else {
                prop_assert!(read(&out, 32).is_err());
            }
        }
    }
}
