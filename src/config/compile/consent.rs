//! `privacy.consent`: the consent platform's signals, checked and compiled.

use super::super::model::{ConsentDoc, ConsentSignalsDoc};
use super::super::Consent;
use super::{did_you_mean, Errors};

/// Google Consent Mode's consent types (developers.google.com/tag-platform/security/guides/consent).
pub(in crate::config) const CONSENT_MODE_TYPES: [&str; 7] = [
    "ad_storage",
    "ad_user_data",
    "ad_personalization",
    "analytics_storage",
    "functionality_storage",
    "personalization_storage",
    "security_storage",
];

/// The TCF v2 core string holds consent for purposes 1–24.
const TCF_PURPOSES: u8 = 24;

/// `None` for `"none"`; the signals otherwise, each checked (errors at `path`).
pub(super) fn compile_consent(doc: &ConsentDoc, path: &str, errs: &mut Errors) -> Option<Consent> {
    let ConsentDoc::Required(signals) = doc else {
        return None;
    };
    let ConsentSignalsDoc {
        cookie,
        tcf,
        consent_mode,
    } = signals;
    if cookie.is_none() && tcf.is_none() && consent_mode.is_empty() {
        errs.push(
            path,
            "names no signal: give cookie, tcf or consent_mode (or \"none\")",
        );
    }
    let mut out = Consent {
        consent_mode: consent_mode.clone(),
        ..Consent::default()
    };
    if let Some(c) = cookie {
        let at = format!("{path}.cookie");
        check_cookie_name(&c.name, &format!("{at}.name"), errs);
        match (&c.equals, &c.contains) {
            (Some(v), None) | (None, Some(v)) if !v.is_empty() => {
                (out.value, out.exact) = (v.clone(), c.equals.is_some());
            }
            (Some(_), None) | (None, Some(_)) => errs.push(&at, "the value to look for is empty"),
            _ => errs.push(&at, "give exactly one of equals or contains"),
        }
        out.cookie = c.name.clone();
    }
    if let Some(t) = tcf {
        let at = format!("{path}.tcf");
        check_cookie_name(&t.cookie, &format!("{at}.cookie"), errs);
        if t.purposes.is_empty() {
            errs.push(format!("{at}.purposes"), "names no purpose");
        }
        for (i, &p) in t.purposes.iter().enumerate() {
            if (1..=TCF_PURPOSES).contains(&p) {
                out.tcf_purposes |= 1 << (p - 1);
            } else {
                errs.push(
                    format!("{at}.purposes[{i}]"),
                    format!("TCF purposes are 1–{TCF_PURPOSES}, got {p}"),
                );
            }
        }
        out.tcf_cookie = t.cookie.clone();
    }
    for (i, kind) in consent_mode.iter().enumerate() {
        if !CONSENT_MODE_TYPES.contains(&kind.as_str()) {
            let hint = did_you_mean(kind, CONSENT_MODE_TYPES.iter().copied());
            errs.push(
                format!("{path}.consent_mode[{i}]"),
                format!("unknown Consent Mode type '{kind}'{hint}"),
            );
        }
    }
    Some(out)
}

/// A cookie name as RFC 6265 allows it (a token: visible ASCII but separators).
fn check_cookie_name(name: &str, path: &str, errs: &mut Errors) {
    let token = |b: u8| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b);
    if name.is_empty() || !name.bytes().all(token) {
        errs.push(path, format!("'{name}' is not a cookie name"));
    }
}
