//! Consent: whether the shop's consent platform lets Vitrine keep behavioral state and records
//! (`privacy.consent`, docs/privacy.md). One function answers for the worker (from the
//! request's cookies) and the browser module (from the page's cookies, the CMP's `__tcfapi`
//! and Google Consent Mode's state in `dataLayer`).

use percent_encoding::percent_decode_str;

use super::cookie_values;
use crate::config::Consent;

/// What a request or a page says about consent.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConsentSignals<'a> {
    /// The `Cookie` header (the worker) or `document.cookie` (the page).
    pub cookie: &'a str,
    /// The TC string the CMP's `__tcfapi` gave (the page), read before the cookie's.
    pub tc_string: Option<&'a str>,
    /// Google Consent Mode types currently `granted`, comma-separated (the page).
    pub consent_mode: Option<&'a str>,
}

/// Whether `rule` (none: consent is not asked) is granted by `signals`: by any of its signals.
/// Total: a missing, malformed or foreign value grants nothing. (Not inlined: the browser
/// module's two callers share one copy.)
#[inline(never)]
pub fn granted(rule: Option<&Consent>, signals: &ConsentSignals<'_>) -> bool {
    let Some(rule) = rule else {
        return true;
    };
    let by_cookie = !rule.cookie.is_empty()
        && cookie_values(signals.cookie, &rule.cookie)
            .iter()
            .any(|raw| {
                let value = percent_decode_str(raw).decode_utf8_lossy();
                match rule.exact {
                    true => value == rule.value,
                    false => crate::text::contains_sub(&value, &rule.value),
                }
            });
    let by_tcf = !rule.tcf_cookie.is_empty() && {
        let from_cookie = || {
            cookie_values(signals.cookie, &rule.tcf_cookie)
                .first()
                .copied()
        };
        let purposes = signals
            .tc_string
            .or_else(from_cookie)
            .and_then(tcf_purpose_consents);
        purposes.is_some_and(|given| given & rule.tcf_purposes == rule.tcf_purposes)
    };
    let by_mode = !rule.consent_mode.is_empty()
        && signals.consent_mode.is_some_and(|granted| {
            rule.consent_mode
                .iter()
                .all(|kind| granted.split(',').any(|g| g.trim() == kind))
        });
    by_cookie || by_tcf || by_mode
}

/// The purposes with consent in an IAB TCF v2 TC string (bit `p − 1` for purpose `p`), read
/// from its core segment as the TCF v2 specification lays it out ("Consent string and vendor
/// list formats v2", core string: Version 6 bits, Created 36, LastUpdated 36, CmpId 12,
/// CmpVersion 12, ConsentScreen 6, ConsentLanguage 12, VendorListVersion 12,
/// TcfPolicyVersion 6, IsServiceSpecific 1, UseNonStandardTexts 1, SpecialFeatureOptIns 12,
/// then PurposesConsent 24). `None` for anything but a version-2 core segment.
pub fn tcf_purpose_consents(tc_string: &str) -> Option<u32> {
    const PURPOSES_AT: usize = 152;
    let core = tc_string.trim().split('.').next()?;
    // The first 32 characters are 24 whole bytes: bits 0–191, past the purposes' 176.
    let bytes = crate::state::b64::decode(core.get(..32)?)?;
    let bit = |i: usize| bytes.get(i / 8).is_some_and(|b| b & (0x80 >> (i % 8)) != 0);
    let version = (0..6).fold(0, |v, i| v << 1 | u8::from(bit(i)));
    if version != 2 {
        return None;
    }
    Some((0..24).fold(0u32, |acc, p| acc | u32::from(bit(PURPOSES_AT + p)) << p))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// TC strings made with the IAB's encoder (iabtcf.com), with the purposes their decoders
    /// report (LiveRamp/iabconsent's fixtures, checked against iabtcf.com/#/decode).
    const PUBLISHED: [(&str, &[u32]); 4] = [
        (
            "COvzTO5OvzTO5B7ABCENAPCYAKdAADkAAIqIFhwBAAGAAXAFGAsMAhYAgAMAAegBYAEKAAA.IFoEUQQgAIQwgIwQABAEAAAAOIAACAIAAAAQAIAgEAACEAAAAAgAQBAAAAAAAGBAAgAAAAAAAFAAECAAAgAAQARAEQAAAAAJAAIAAgAAAYQEAAAQmAgBC3ZAYzUw.QE5QAwCvgHyATkA",
            &[1, 3, 6, 7, 8, 10],
        ),
        (
            "COvzTO5OvzTO5BRAAAENAPCoALIAADgAAAAAAewAwABAAlAB6ABBFADBQAQA9hAAAcAA",
            &[1, 3, 4, 7],
        ),
        (
            "COvzTO5OvzTO5BZAFMENAPCgAAAAAAAAAAwIFoEUQQgAIQwgIwQABAEAAAAOIAACAIAAAAQAIAgEAACEAAAAAgAQBAAAAAAAGBAAgAAAAAAAFAAECAAAgAAQARAEQAAAAAJAAIAAgAAAYQEAAAQmAgBC3ZAYzUwLQIoghAAQhhARggACAIAAAAcQAAEAQAAAAgAQBAIAAEIAAAABAAgCAAAAAAAMCABAAAAAAAAKAAIEAABAAAgAiAIgAAAAASAAQABAAAAwgIAAAhMBACFuyAxmpgAA",
            &[],
        ),
        // TCF v2.2 (policy version 4).
        ("COvzTO5OvzTO5B7ABCENAPEYAIAAAIAAAIqIAAoAAoAA.QAAo.IAAo", &[1]),
    ];

    fn mask(purposes: &[u32]) -> u32 {
        purposes.iter().fold(0, |m, p| m | 1 << (p - 1))
    }

    #[test]
    fn reads_the_purposes_of_published_tc_strings() {
        for (tc, purposes) in PUBLISHED {
            assert_eq!(tcf_purpose_consents(tc), Some(mask(purposes)), "{tc}");
        }
    }

    #[test]
    fn refuses_what_is_not_a_version_2_core_string() {
        for bad in [
            "",
            "COvzTO5",
            "BOEFEAyOEFEAyAHABDENAI4AAAB9vABAASA", // a TCF v1 consent string
            "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
            "COvzTO5Ovz+O5BRAAAENAPCoALIAADgAAAAAAewAwABAAlAB6ABBFADBQAQA9hAAAcAA", // not base64url
        ] {
            assert_eq!(tcf_purpose_consents(bad), None, "{bad}");
        }
    }

    fn rule(cookie: Option<(&str, &str, bool)>, tcf: Option<&[u32]>, mode: &[&str]) -> Consent {
        let (name, value, exact) = cookie.unwrap_or_default();
        Consent {
            cookie: name.into(),
            value: value.into(),
            exact,
            tcf_cookie: tcf.map_or("", |_| "euconsent-v2").into(),
            tcf_purposes: tcf.map_or(0, mask),
            consent_mode: mode.iter().map(|m| m.to_string()).collect(),
        }
    }

    fn at(cookie: &str) -> ConsentSignals<'_> {
        ConsentSignals {
            cookie,
            ..ConsentSignals::default()
        }
    }

    #[test]
    fn no_rule_is_consent() {
        assert!(granted(None, &at("")));
    }

    #[test]
    fn a_cmp_cookie_grants_by_its_decoded_value() {
        // OneTrust's OptanonConsent, percent-encoded as it sets it.
        let onetrust = rule(Some(("OptanonConsent", "C0004:1", false)), None, &[]);
        let yes =
            "a=1; OptanonConsent=isGpcEnabled=0&groups=C0001%3A1%2CC0003%3A1%2CC0004%3A1; b=2";
        let no = "OptanonConsent=isGpcEnabled=0&groups=C0001%3A1%2CC0004%3A0";
        assert!(granted(Some(&onetrust), &at(yes)));
        assert!(!granted(Some(&onetrust), &at(no)));
        assert!(!granted(Some(&onetrust), &at("")));
        let exact = rule(Some(("cmp", "yes", true)), None, &[]);
        assert!(granted(Some(&exact), &at("cmp=yes")));
        assert!(!granted(Some(&exact), &at("cmp=yes-but")));
        assert!(!granted(Some(&exact), &at("cmpx=yes")));
    }

    #[test]
    fn a_tc_string_grants_when_every_purpose_has_consent() {
        let storage = rule(None, Some(&[1]), &[]);
        let personalization = rule(None, Some(&[1, 5, 6]), &[]);
        let cookie = format!("euconsent-v2={}", PUBLISHED[1].0);
        assert!(granted(Some(&storage), &at(&cookie)));
        assert!(!granted(Some(&personalization), &at(&cookie)));
        // The CMP's API is read before the cookie.
        let api = ConsentSignals {
            cookie: &cookie,
            tc_string: Some(PUBLISHED[2].0),
            consent_mode: None,
        };
        assert!(!granted(Some(&storage), &api));
        assert!(!granted(Some(&storage), &at("euconsent-v2=garbage")));
    }

    #[test]
    fn consent_mode_grants_when_every_type_is_granted() {
        let r = rule(None, None, &["ad_personalization", "analytics_storage"]);
        let page = |m| ConsentSignals {
            consent_mode: Some(m),
            ..ConsentSignals::default()
        };
        assert!(granted(
            Some(&r),
            &page("analytics_storage, ad_personalization,ad_storage")
        ));
        assert!(!granted(Some(&r), &page("analytics_storage")));
        assert!(!granted(Some(&r), &page("")));
        // The worker has no Consent Mode state.
        assert!(!granted(Some(&r), &at("")));
    }

    #[test]
    fn any_signal_grants() {
        let r = rule(Some(("cmp", "1", true)), Some(&[1]), &[]);
        assert!(granted(Some(&r), &at("cmp=1")));
        assert!(granted(
            Some(&r),
            &at(&format!("euconsent-v2={}", PUBLISHED[0].0))
        ));
        assert!(!granted(Some(&r), &at("cmp=0")));
    }
}
