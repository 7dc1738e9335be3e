//! Untrusted input → typed facts: the request context, cookies, click-stream events, traits.
//!
//! Architecture Invariant: nothing here fails or panics on shopper input. Readers return a value
//! and, where something was ignored, issue codes that never carry the input's content.

pub mod consent;
pub mod context;
pub mod events;
pub mod traits;
pub mod url;

pub use consent::{granted as consent_granted, ConsentSignals};
pub use context::{
    classify_device, read_context, request_events, Device, Geo, RequestContext, RequestFacts,
    BOT_MARKERS,
};
pub use events::{decode_events, encode_events, Event, EventIssue};
pub use traits::{open_traits, seal_traits, Traits, TraitsIssue};
pub use url::{has_param, split_url, UrlParts, DEBUG_PARAM};

/// Name of the signed state cookie.
pub const STATE_COOKIE: &str = "vt";
/// Name of the unsigned click-stream cookie written by the browser.
pub const EVENTS_COOKIE: &str = "vt_e";
/// Name of the signed traits cookie written by the origin.
pub const TRAITS_COOKIE: &str = "vt_t";

/// Every value of cookie `name` in a `Cookie` header, in order.
pub fn cookie_values<'a>(header: &'a str, name: &str) -> Vec<&'a str> {
    header
        .split(';')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (k.trim() == name).then(|| v.trim().trim_matches('"'))
        })
        .collect()
}

/// A `Cookie` header without the cookies named `name` (pairs kept as they came).
pub fn cookie_header_without(header: &str, name: &str) -> String {
    header
        .split(';')
        .filter(|pair| pair.split_once('=').map_or(pair.trim(), |(k, _)| k.trim()) != name)
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::{cookie_header_without, cookie_values};

    #[test]
    fn cookie_header_without_a_name() {
        assert_eq!(
            cookie_header_without("a=1; vt_debug=tok;vt=x; vt_debug=again", "vt_debug"),
            "a=1; vt=x"
        );
        assert_eq!(cookie_header_without("vt_debug=tok", "vt_debug"), "");
        assert_eq!(
            cookie_header_without("vt_debugger=1", "vt_debug"),
            "vt_debugger=1"
        );
    }

    #[test]
    fn cookies() {
        assert_eq!(
            cookie_values("a=1; vt=abc; vt_e=x|y; vt=\"def\"", "vt"),
            vec!["abc", "def"]
        );
        assert_eq!(cookie_values("vt_e=x|y", "vt"), Vec::<&str>::new());
        assert_eq!(cookie_values(";;=;vt=", "vt"), vec![""]);
    }
}
