//! The visitor id as records and tools write it: its 16 random bytes as 32 lowercase hex digits.

/// Lowercase hex of bytes (a visitor id, a request id).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

/// A visitor id written by [`hex`]: `None` unless exactly 32 hex digits (either case).
pub fn id_from_hex(text: &str) -> Option<[u8; 16]> {
    if text.len() != 32 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut id = [0u8; 16];
    for (i, b) in id.iter_mut().enumerate() {
        *b = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_anything_else_is_none() {
        let id: [u8; 16] = std::array::from_fn(|i| (i * 17) as u8);
        let text = hex(&id);
        assert_eq!(text, "00112233445566778899aabbccddeeff");
        assert_eq!(id_from_hex(&text), Some(id));
        assert_eq!(id_from_hex(&text.to_uppercase()), Some(id));
        for bad in [
            "",
            "00",
            &text[1..],
            &format!("{text}0"),
            &text.replace('f', "g"),
            "+0112233445566778899aabbccddeeff",
            "é0112233445566778899aabbccddee",
        ] {
            assert_eq!(id_from_hex(bad), None, "{bad}");
        }
    }
}
