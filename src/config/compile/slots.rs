//! Slots and their variants: selectors, actions, conditions, templates, ranking, limits.

use super::*;

/// One variant of a slot: condition, templates, pick-specific fields, policies that target it.
pub(super) fn compile_variant(
    cx: &Cx<'_>,
    name: &str,
    sd: &SlotDoc,
    vd: &VariantDoc,
    vpath: &str,
    ids: &mut BTreeSet<String>,
    errs: &mut Errors,
) -> Variant {
    if !valid_name(&vd.id) {
        errs.push(
            format!("{vpath}.id"),
            format!(
                "'{}' is not a valid variant id (letters, digits, '_' and '-')",
                vd.id
            ),
        );
    } else if vd.id == REORDER_VARIANT {
        errs.push(
            format!("{vpath}.id"),
            format!("'{REORDER_VARIANT}' is reserved"),
        );
    }
    if !ids.insert(vd.id.clone()) {
        errs.push(
            format!("{vpath}.id"),
            format!("duplicate variant id '{}'", vd.id),
        );
    }
    let vwhen = vd
        .when
        .as_deref()
        .and_then(|w| compile_expr(w, &cx.scope(None), &format!("{vpath}.when"), errs));
    if sd.action.takes_html() && vd.html.is_none() {
        errs.push(
            format!("{vpath}.html"),
            format!("{} needs html", sd.action.name()),
        );
    }
    if !sd.action.takes_html() && vd.html.is_some() {
        errs.push(
            format!("{vpath}.html"),
            format!("{} takes no html", sd.action.name()),
        );
    }
    match (sd.action == Action::SetAttribute, vd.value.is_some()) {
        (true, false) => errs.push(format!("{vpath}.value"), "set_attribute needs a value"),
        (false, true) => errs.push(
            format!("{vpath}.value"),
            "only set_attribute variants take a value",
        ),
        _ => {}
    }
    let weight = variant_weight(sd, vd, vpath, errs);
    let dimension = variant_dimension(cx, sd, vd, vpath, errs);
    let mut template = |src: &Option<String>, field: &str| {
        let src = src.as_deref()?;
        match Template::parse(src, &cx.scope(None)) {
            Ok(t) => Some(t),
            Err(e) => {
                errs.push(format!("{vpath}.{field}"), e);
                None
            }
        }
    };
    let html = template(&vd.html, "html");
    let value = template(&vd.value, "value");
    Variant {
        id: vd.id.clone(),
        when: vwhen,
        html,
        value,
        weight,
        dimension,
        requires_signed: vd.requires.is_some(),
        policies: cx.policies_for(name, &vd.id),
    }
}

/// A variant's weight: positive, and only with `pick: weighted` (0 otherwise).
fn variant_weight(sd: &SlotDoc, vd: &VariantDoc, vpath: &str, errs: &mut Errors) -> f64 {
    match (sd.pick, vd.weight) {
        (Pick::Weighted, Some(w)) if finite(w) && w > 0.0 => w,
        (Pick::Weighted, Some(w)) => {
            errs.push(
                format!("{vpath}.weight"),
                format!("must be a positive number, got {w}"),
            );
            0.0
        }
        (Pick::Weighted, None) => {
            errs.push(
                format!("{vpath}.weight"),
                "weighted pick needs a weight on every variant",
            );
            0.0
        }
        (_, Some(_)) => {
            errs.push(
                format!("{vpath}.weight"),
                "weight is only used with pick 'weighted'",
            );
            0.0
        }
        (_, None) => 0.0,
    }
}

/// A variant's dimension: a declared one, on every variant of a `best_score` slot only.
fn variant_dimension(
    cx: &Cx<'_>,
    sd: &SlotDoc,
    vd: &VariantDoc,
    vpath: &str,
    errs: &mut Errors,
) -> Option<usize> {
    match (&vd.dimension, sd.pick) {
        (Some(d), _) => {
            let idx = cx.dims.iter().position(|n| n == d);
            if idx.is_none() {
                errs.push(
                    format!("{vpath}.dimension"),
                    format!(
                        "unknown dimension '{d}'{}",
                        did_you_mean(d, cx.dims.iter().map(String::as_str))
                    ),
                );
            }
            if sd.pick != Pick::BestScore {
                errs.push(
                    format!("{vpath}.dimension"),
                    "dimension is only used with pick 'best_score'",
                );
            }
            idx
        }
        (None, Pick::BestScore) => {
            errs.push(
                format!("{vpath}.dimension"),
                "best_score pick needs a dimension on every variant",
            );
            None
        }
        (None, _) => None,
    }
}

/// One slot: selector, action-specific fields, variants and their templates, rank, caps.
pub(super) fn compile_slot(cx: &Cx<'_>, name: &str, sd: &SlotDoc, errs: &mut Errors) -> Slot {
    let path = join(&join(cx.base, "slots"), name);
    if !valid_name(name) {
        errs.push(
            &path,
            format!("'{name}' is not a valid slot name (letters, digits, '_' and '-')"),
        );
    }
    let selector = parse_selector(&sd.selector, &format!("{path}.selector"), errs);
    let reorder = sd.action == Action::Reorder;
    let items = item_selector(&path, sd, errs);
    if !reorder {
        for (field, present) in [
            ("rank", sd.rank.is_some()),
            ("when", sd.when.is_some()),
            ("max_buffer_bytes", sd.max_buffer_bytes.is_some()),
        ] {
            if present {
                errs.push(
                    format!("{path}.{field}"),
                    format!("only reorder slots take {field}; put conditions on variants"),
                );
            }
        }
    }
    check_attribute(&path, sd, errs);
    if reorder && !sd.variants.is_empty() {
        errs.push(
            format!("{path}.variants"),
            "reorder slots take no variants (use rank)",
        );
    }
    if !reorder && sd.variants.is_empty() {
        errs.push(format!("{path}.variants"), "needs at least one variant");
    }
    let when = sd
        .when
        .as_deref()
        .and_then(|w| compile_expr(w, &cx.scope(None), &format!("{path}.when"), errs));
    let mut variants = Vec::new();
    let mut ids: BTreeSet<String> = BTreeSet::new();
    for (vi, vd) in sd.variants.iter().enumerate() {
        let vpath = format!("{path}.variants[{vi}]");
        variants.push(compile_variant(cx, name, sd, vd, &vpath, &mut ids, errs));
    }
    let rank = reorder.then(|| super::rank::compile_rank(cx, &path, sd, errs));
    check_boosts(&path, sd, errs);
    if let Some(cap) = &sd.frequency_cap {
        if cap.per_session.is_none() && cap.per_visitor.is_none() {
            errs.push(
                format!("{path}.frequency_cap"),
                "needs per_session or per_visitor",
            );
        }
        if cap.per_session == Some(0) || cap.per_visitor == Some(0) {
            errs.push(
                format!("{path}.frequency_cap"),
                "a cap of 0 never shows the slot; remove the slot instead",
            );
        }
    }
    Slot {
        name: name.to_string(),
        key: stable_key(name),
        selector,
        selector_source: sd.selector.clone(),
        action: sd.action,
        pick: sd.pick,
        variants,
        attribute: sd.attribute.clone(),
        items: if items.is_some() {
            sd.items.clone()
        } else {
            None
        },
        items_selector: items,
        rank,
        when,
        max_buffer_bytes: sd.max_buffer_bytes.unwrap_or(cx.max_buffer_bytes),
        cap_per_session: sd.frequency_cap.as_ref().and_then(|c| c.per_session),
        cap_per_visitor: sd.frequency_cap.as_ref().and_then(|c| c.per_visitor),
        experiment: None,
        split_salt: format!("slot:{name}"),
        policies: cx.policies_for(name, REORDER_VARIANT),
    }
}

/// A reorder slot's item selector, compiled as `<container> <items>`; `None` after an error.
fn item_selector(path: &str, sd: &SlotDoc, errs: &mut Errors) -> Option<CompiledSelector> {
    match (&sd.items, sd.action == Action::Reorder) {
        // Items are matched by `<container> <items>`, compiled once here.
        (Some(_), true) if sd.selector.contains(',') => {
            errs.push(
                format!("{path}.selector"),
                "a reorder container selector cannot be a list (',')",
            );
            None
        }
        (Some(src), true) if src.contains(',') => {
            errs.push(
                format!("{path}.items"),
                "a reorder item selector cannot be a list (',')",
            );
            None
        }
        (Some(src), true) => parse_selector(src, &format!("{path}.items"), errs).and_then(|_| {
            parse_selector(
                &format!("{} {src}", sd.selector),
                &format!("{path}.items"),
                errs,
            )
        }),
        (None, true) => {
            errs.push(format!("{path}.items"), "reorder needs an item selector");
            None
        }
        (Some(_), false) => {
            errs.push(
                format!("{path}.items"),
                format!("only reorder slots take items, not {}", sd.action.name()),
            );
            None
        }
        (None, false) => None,
    }
}

/// `attribute`: only set_attribute slots take one, and they need a valid name.
fn check_attribute(path: &str, sd: &SlotDoc, errs: &mut Errors) {
    match (sd.action, &sd.attribute) {
        (Action::SetAttribute, None) => errs.push(
            format!("{path}.attribute"),
            "set_attribute needs an attribute name",
        ),
        (Action::SetAttribute, Some(a)) => {
            super::rank::check_attr(&format!("{path}.attribute"), a, errs);
        }
        (a, Some(_)) if a != Action::SetAttribute => errs.push(
            format!("{path}.attribute"),
            format!(
                "only set_attribute slots take an attribute, not {}",
                a.name()
            ),
        ),
        _ => {}
    }
}

/// Boosts within ±1000 (out-of-range ones are clamped, and reported).
fn check_boosts(path: &str, sd: &SlotDoc, errs: &mut Errors) {
    if let Some(r) = &sd.rank {
        for (k, v) in &r.boost {
            if !(finite(*v) && v.abs() <= 1000.0) {
                errs.push(
                    join(&format!("{path}.rank.boost"), k),
                    format!("boost must be within ±1000, got {v}"),
                );
            }
        }
    }
}
