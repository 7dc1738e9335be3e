//! A reorder slot's ranking: where each item's category and SKU are read from the page's
//! markup ([`ItemKey`]), the keys that carry a score or a boost.

use super::*;
use crate::config::model::{ItemKeyDoc, RankDoc};
use crate::config::ItemKey;

/// A reorder slot's ranking: the visitor's dimensions (with `affinity: score`) and the boosted
/// values as keys, each with its source dimension and boost in hundredths, and where items
/// carry them.
pub(super) fn compile_rank(cx: &Cx<'_>, path: &str, sd: &SlotDoc, errs: &mut Errors) -> Rank {
    let rd = sd.rank.clone().unwrap_or_else(|| RankDoc {
        by_attr: None,
        sku_attr: None,
        category: None,
        sku: None,
        affinity: Affinity::default(),
        suppress: Vec::new(),
        pin: Vec::new(),
        boost: BTreeMap::new(),
        bury: Vec::new(),
    });
    let rpath = format!("{path}.rank");
    let category = item_key(
        cx,
        &rpath,
        ("by_attr", rd.by_attr.as_deref()),
        ("category", rd.category.as_ref()),
        "data-vt-category",
        errs,
    );
    let sku = item_key(
        cx,
        &rpath,
        ("sku_attr", rd.sku_attr.as_deref()),
        ("sku", rd.sku.as_ref()),
        "data-vt-sku",
        errs,
    );
    let mut keys = Vec::new();
    let mut key_sources = Vec::new();
    if rd.affinity == Affinity::Score {
        for (i, d) in cx.dims.iter().enumerate() {
            keys.push(d.clone());
            key_sources.push((Some(i), 0));
        }
    }
    for (value, boost) in rd.boost.iter().filter(|(_, v)| v.is_finite()) {
        let centi = to_centi(boost.clamp(-1000.0, 1000.0)) as i32;
        match keys.iter().position(|k| k == value) {
            Some(k) => key_sources[k].1 += centi,
            None => {
                keys.push(value.clone());
                key_sources.push((None, centi));
            }
        }
    }
    Rank {
        category,
        sku,
        affinity: rd.affinity,
        suppress: rd.suppress,
        pin: rd.pin,
        bury: rd.bury,
        keys,
        key_sources,
    }
}

/// One item key: the attribute shorthand (`by_attr`) or the full form (`category`), not both;
/// `default` names the item's own attribute when neither is given.
fn item_key(
    cx: &Cx<'_>,
    rpath: &str,
    (short_name, short): (&str, Option<&str>),
    (name, doc): (&str, Option<&ItemKeyDoc>),
    default: &str,
    errs: &mut Errors,
) -> ItemKey {
    let kpath = format!("{rpath}.{name}");
    let doc = match (short, doc) {
        (Some(_), Some(_)) => {
            errs.push(
                format!("{rpath}.{short_name}"),
                format!("give {short_name} or {name}, not both ({short_name} is {name}'s attr on the item itself)"),
            );
            return ItemKey::attribute(default, name);
        }
        (Some(attr), None) => {
            check_attr(&format!("{rpath}.{short_name}"), attr, errs);
            return ItemKey::attribute(attr, name);
        }
        (None, None) => return ItemKey::attribute(default, name),
        (None, Some(doc)) => doc,
    };
    check_attr(&format!("{kpath}.attr"), &doc.attr, errs);
    let ways = [
        doc.prefix.is_some(),
        doc.pattern.is_some(),
        doc.page_type.is_some(),
    ];
    if ways.iter().filter(|w| **w).count() > 1 {
        errs.push(
            kpath.clone(),
            "give one of prefix, pattern and page_type: they are three ways to cut the key out of the value",
        );
    }
    if doc.prefix.as_deref() == Some("") {
        errs.push(
            format!("{kpath}.prefix"),
            "an empty prefix reads the first token; leave prefix out to read the whole value",
        );
    }
    let compiled = doc
        .selector
        .as_deref()
        .and_then(|s| parse_selector(s, &format!("{kpath}.selector"), errs));
    ItemKey {
        selector: compiled.is_some().then(|| doc.selector.clone()).flatten(),
        compiled,
        attr: doc.attr.clone(),
        prefix: doc.prefix.clone().filter(|p| !p.is_empty()),
        patterns: key_patterns(cx, &kpath, name, doc, errs),
        capture: name.to_string(),
    }
}

/// The path patterns of `pattern` or `page_type` that capture `{name}`.
fn key_patterns(
    cx: &Cx<'_>,
    kpath: &str,
    name: &str,
    doc: &ItemKeyDoc,
    errs: &mut Errors,
) -> Vec<PathPattern> {
    let captures = |p: &PathPattern| p.params().any(|n| n == name);
    if let Some(src) = &doc.pattern {
        return match PathPattern::parse(src) {
            Ok(p) if captures(&p) => vec![p],
            Ok(_) => {
                errs.push(
                    format!("{kpath}.pattern"),
                    format!("'{src}' has no {{{name}}} capture: the key is that capture"),
                );
                Vec::new()
            }
            Err(e) => {
                errs.push(format!("{kpath}.pattern"), e);
                Vec::new()
            }
        };
    }
    let Some(kind) = &doc.page_type else {
        return Vec::new();
    };
    let of_kind: Vec<&PageType> = cx.page_types.iter().filter(|p| &p.kind == kind).collect();
    let patterns: Vec<PathPattern> = of_kind
        .iter()
        .map(|p| &p.pattern)
        .filter(|p| captures(p))
        .cloned()
        .collect();
    if of_kind.is_empty() {
        let known: Vec<&str> = cx.page_kinds.iter().map(String::as_str).collect();
        errs.push(
            format!("{kpath}.page_type"),
            format!("no page type '{kind}' (page_types: {})", known.join(", ")),
        );
    } else if patterns.is_empty() {
        errs.push(
            format!("{kpath}.page_type"),
            format!("no path pattern of page type '{kind}' has a {{{name}}} capture"),
        );
    }
    patterns
}

/// An attribute name an HTML tokenizer reads back as one name.
pub(super) fn check_attr(path: &str, attr: &str, errs: &mut Errors) {
    if attr.is_empty()
        || attr
            .chars()
            .any(|c| c.is_whitespace() || "\"'<>/=".contains(c))
    {
        errs.push(path, format!("'{attr}' is not a valid attribute name"));
    }
}
