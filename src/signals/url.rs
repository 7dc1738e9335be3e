//! The one URL splitter: a request URL (absolute, or a path with a query) or a referrer into
//! scheme, host, path and query, without a URL parser (the `url` crate and its Unicode tables
//! stay out of the bundles; the runtime has validated request URLs already). The fragment is
//! never part of any of them.

/// The parts of a URL, borrowed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UrlParts<'a> {
    /// Empty for a path.
    pub scheme: &'a str,
    /// As written (case kept), without user info and port; IPv6 in its brackets; empty for a
    /// path.
    pub host: &'a str,
    /// The path and query as sent to a server: `/` when there is neither.
    pub target: &'a str,
    /// The path: `/` when empty.
    pub path: &'a str,
    /// The query, without its `?`.
    pub query: &'a str,
}

/// Splits `url`. Never fails: anything that does not start with a scheme and `://` is a path.
pub fn split_url(url: &str) -> UrlParts<'_> {
    let url = url.split('#').next().unwrap_or("");
    let (scheme, rest) = match crate::text::split_once_sub(url, "://") {
        Some((scheme, rest)) if is_scheme(scheme) => (scheme, rest),
        _ => ("", url),
    };
    let (authority, target) = if scheme.is_empty() {
        ("", rest)
    } else {
        // NOTE: `split_at_checked`, not `split_at`: the panic path of a str slice formats with
        // Unicode tables, ~4 KB gzip in the browser module (the cut is a char boundary anyway).
        let cut = rest.find(['/', '?']).unwrap_or(rest.len());
        rest.split_at_checked(cut).unwrap_or((rest, ""))
    };
    let host = authority.rsplit('@').next().unwrap_or(authority);
    let host = if host.starts_with('[') {
        host.split_inclusive(']').next().unwrap_or(host)
    } else {
        host.split(':').next().unwrap_or(host)
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    UrlParts {
        scheme,
        host,
        target: if target.is_empty() { "/" } else { target },
        path: if path.is_empty() { "/" } else { path },
        query,
    }
}

/// The query parameter that asks for the debug overlay (and, in browser-only mode, allows
/// QA forcing).
pub const DEBUG_PARAM: &str = "vt-debug";

/// Whether a query (without its `?`) carries parameter `name`, with a value or without:
/// `vt-debug`, `vt-debug=1`.
pub fn has_param(query: &str, name: &str) -> bool {
    query
        .split('&')
        .any(|kv| kv.split('=').next() == Some(name))
}

/// RFC 3986: a letter, then letters, digits, `+`, `-`, `.`.
fn is_scheme(s: &str) -> bool {
    s.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(url: &str) -> (&str, &str, &str, &str, &str) {
        let p = split_url(url);
        (p.scheme, p.host, p.target, p.path, p.query)
    }

    #[test]
    fn splits_urls_and_paths() {
        assert_eq!(
            parts("https://shop.example/c/hiking?x=1#top"),
            ("https", "shop.example", "/c/hiking?x=1", "/c/hiking", "x=1")
        );
        assert_eq!(
            parts("https://shop.example"),
            ("https", "shop.example", "/", "/", "")
        );
        assert_eq!(
            parts("https://shop.example?q=1"),
            ("https", "shop.example", "?q=1", "/", "q=1")
        );
        assert_eq!(
            parts("/search?q=boots"),
            ("", "", "/search?q=boots", "/search", "q=boots")
        );
        assert_eq!(parts(""), ("", "", "/", "/", ""));
        assert_eq!(
            parts("https://u:p@Host:8080/x"),
            ("https", "Host", "/x", "/x", "")
        );
        assert_eq!(
            parts("http://[::1]:8787/p"),
            ("http", "[::1]", "/p", "/p", "")
        );
        assert_eq!(
            parts("android-app://com.example.app/"),
            ("android-app", "com.example.app", "/", "/", "")
        );
        assert_eq!(parts("not a url"), ("", "", "not a url", "not a url", ""));
        assert_eq!(parts("/a://b"), ("", "", "/a://b", "/a://b", ""));
    }
}
