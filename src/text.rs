//! Substring search for the request path, without core's `&str`-pattern searcher.
//!
//! `str::find`, `contains` and `split_once` with a `&str` pattern use core's two-way searcher,
//! whose panic path formats with Unicode tables: ≈ 8 KB gzip in the browser module. The needles
//! on the request path are a few bytes, so a plain byte scan does, and never panics. And the
//! one cut of a string to a length in bytes, at a character boundary.

/// `s` cut to at most `max` bytes, at a character boundary.
pub fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("")
}

/// The byte offset of the first `needle` in `hay`.
pub fn find_sub(hay: &str, needle: &str) -> Option<usize> {
    // The byte scan in every wasm build (the needles are short, and core's two-way searcher
    // spends more setting up than scanning: 10% of the decide path in V8); natively core's
    // searcher has SIMD.
    if cfg!(target_arch = "wasm32") {
        byte_find(hay, needle)
    } else {
        hay.find(needle)
    }
}

/// Whether `needle` occurs in `hay` (natively, core's `contains` has a SIMD path).
pub fn contains_sub(hay: &str, needle: &str) -> bool {
    if cfg!(target_arch = "wasm32") {
        byte_find(hay, needle).is_some()
    } else {
        hay.contains(needle)
    }
}

/// [`find_sub`] by a byte scan: the first byte by a tight loop, then the rest compared in place.
fn byte_find(hay: &str, needle: &str) -> Option<usize> {
    let (hay, needle) = (hay.as_bytes(), needle.as_bytes());
    let Some((&first, rest)) = needle.split_first() else {
        return Some(0);
    };
    let last_start = hay.len().checked_sub(needle.len())?;
    let mut from = 0;
    while from <= last_start {
        let at = from
            + hay
                .get(from..=last_start)?
                .iter()
                .position(|&b| b == first)?;
        if hay.get(at + 1..at + needle.len()) == Some(rest) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// `hay` split around the first `needle`, as `str::split_once` does.
pub fn split_once_sub<'a>(hay: &'a str, needle: &str) -> Option<(&'a str, &'a str)> {
    let i = find_sub(hay, needle)?;
    Some((hay.get(..i)?, hay.get(i + needle.len()..)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn agrees_with_str_find(hay in "[ab/:é]{0,24}", needle in "[ab/:é]{0,4}") {
            prop_assert_eq!(byte_find(&hay, &needle), hay.find(needle.as_str()));
            prop_assert_eq!(find_sub(&hay, &needle), hay.find(needle.as_str()));
            prop_assert_eq!(contains_sub(&hay, &needle), hay.contains(needle.as_str()));
            prop_assert_eq!(split_once_sub(&hay, &needle), hay.split_once(needle.as_str()));
        }
    }

    #[test]
    fn finds_as_str_find_does() {
        for (hay, needle) in [
            ("https://a/b", "://"),
            ("abc", "c"),
            ("abc", "abcd"),
            ("", "x"),
            ("x", ""),
            ("ééx", "x"),
            ("aaa", "aa"),
        ] {
            assert_eq!(
                find_sub(hay, needle),
                hay.find(needle),
                "{hay:?} {needle:?}"
            );
            assert_eq!(
                split_once_sub(hay, needle),
                hay.split_once(needle),
                "{hay:?} {needle:?}"
            );
        }
    }
}
