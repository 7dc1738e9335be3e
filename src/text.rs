//! Substring search for the request path, without core's `&str`-pattern searcher.
//!
//! `str::find`, `contains` and `split_once` with a `&str` pattern use core's two-way searcher,
//! whose panic path formats with Unicode tables: ≈ 8 KB gzip in the browser module. The needles
//! on the request path are a few bytes, so a plain byte scan does, and never panics.

/// The byte offset of the first `needle` in `hay`.
pub fn find_sub(hay: &str, needle: &str) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.as_bytes()
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())
}

/// `hay` split around the first `needle`, as `str::split_once` does.
pub fn split_once_sub<'a>(hay: &'a str, needle: &str) -> Option<(&'a str, &'a str)> {
    let i = find_sub(hay, needle)?;
    Some((hay.get(..i)?, hay.get(i + needle.len()..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

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
