//! The site's rules around its slots: dimensions, page types, segments (ordered by what they
//! read), signals, policies, experiments, privacy and limits.

use super::*;

/// `dimensions`: names, half-lives, caps and stable keys.
pub(super) fn compile_dimensions(doc: &SiteDoc, base: &str, errs: &mut Errors) -> Vec<Dimension> {
    let p = |k: &str| join(base, k);
    let mut dimensions = Vec::new();
    if doc.dimensions.is_empty() {
        errs.push(p("dimensions"), "needs at least one dimension");
    }
    if doc.dimensions.len() > MAX_DIMENSIONS {
        errs.push(
            p("dimensions"),
            format!(
                "{} dimensions; at most {MAX_DIMENSIONS}",
                doc.dimensions.len()
            ),
        );
    }
    let mut keys: BTreeMap<u16, &str> = BTreeMap::new();
    for (name, d) in &doc.dimensions {
        let path = join(&p("dimensions"), name);
        if !valid_name(name) {
            errs.push(
                &path,
                format!("'{name}' is not a valid name (letters, digits, '_' and '-')"),
            );
        }
        if !(finite(d.half_life_hours) && d.half_life_hours > 0.0) {
            errs.push(
                format!("{path}.half_life_hours"),
                format!(
                    "must be a positive number of hours, got {}",
                    d.half_life_hours
                ),
            );
        }
        if !(finite(d.cap) && d.cap > 0.0 && d.cap <= 1000.0) {
            errs.push(
                format!("{path}.cap"),
                format!("must be in (0, 1000], got {}", d.cap),
            );
        }
        let key = stable_key(name);
        if let Some(other) = keys.insert(key, name) {
            errs.push(
                &path,
                format!("stable key {key:#06x} collides with dimension '{other}'; rename one"),
            );
        }
        dimensions.push(Dimension {
            name: name.clone(),
            key,
            half_life_secs: d.half_life_hours * 3600.0,
            cap: to_centi(d.cap.clamp(0.0, 1000.0)) as u32,
            top: d.top,
        });
    }
    dimensions
}

/// `page_types`: path patterns, with the parameter names and page types they define.
pub(super) fn compile_page_types(
    doc: &SiteDoc,
    base: &str,
    errs: &mut Errors,
) -> (Vec<PageType>, BTreeSet<String>, BTreeSet<String>) {
    let p = |k: &str| join(base, k);
    let mut page_types = Vec::new();
    let mut page_params = BTreeSet::new();
    let mut page_kinds = BTreeSet::new();
    for (i, pt) in doc.page_types.iter().enumerate() {
        let path = format!("{}[{i}]", p("page_types"));
        match PathPattern::parse(&pt.path) {
            Ok(pattern) => {
                page_params.extend(pattern.params().map(String::from));
                page_types.push(PageType {
                    pattern,
                    kind: pt.kind.clone(),
                    search_param: pt.search_param.clone(),
                });
            }
            Err(e) => errs.push(format!("{path}.path"), e),
        }
        if !valid_name(&pt.kind) {
            errs.push(
                format!("{path}.type"),
                format!("'{}' is not a valid page type name", pt.kind),
            );
        }
        if pt.search_param.is_some() && pt.kind != "search" {
            errs.push(
                format!("{path}.search_param"),
                "only pages of type 'search' take a search_param",
            );
        }
        page_kinds.insert(pt.kind.clone());
    }
    (page_types, page_params, page_kinds)
}

/// `segments`: each compiled against every name (segments may read segments), then ordered.
pub(super) fn compile_segments(
    doc: &SiteDoc,
    cx: &Cx<'_>,
    errs: &mut Errors,
) -> (Vec<Segment>, Vec<usize>) {
    let p = |k: &str| join(cx.base, k);
    let mut segments = Vec::new();
    for (name, src) in &doc.segments {
        let path = join(&p("segments"), name);
        if !valid_name(name) {
            errs.push(&path, format!("'{name}' is not a valid segment name"));
        } else if Builtin::named(name).is_some() || name == "true" || name == "false" {
            errs.push(&path, format!("'{name}' is a built-in name"));
        }
        let expr = compile_expr(src, &cx.scope(None), &path, errs).unwrap_or(Expr::Const(false));
        segments.push(Segment {
            name: name.clone(),
            source: src.clone(),
            expr,
        });
    }
    let order = order_segments(&segments, &p("segments"), errs);
    (segments, order)
}

/// `signals`: conditions over their event's fields, amounts per dimension or by category.
pub(super) fn compile_signals(doc: &SiteDoc, cx: &Cx<'_>, errs: &mut Errors) -> Vec<Signal> {
    let p = |k: &str| join(cx.base, k);
    let mut signals = Vec::new();
    for (i, s) in doc.signals.iter().enumerate() {
        let path = format!("{}[{i}]", p("signals"));
        let when = s
            .when
            .as_deref()
            .and_then(|w| compile_expr(w, &cx.scope(Some(s.on)), &format!("{path}.where"), errs));
        let mut add = Vec::new();
        for (dim, amount) in &s.add {
            let apath = join(&format!("{path}.add"), dim);
            match cx.dims.iter().position(|d| d == dim) {
                Some(idx) if finite(*amount) && amount.abs() <= 1000.0 => {
                    add.push((idx, to_centi(*amount) as i32))
                }
                Some(_) => errs.push(apath, format!("amount must be within ±1000, got {amount}")),
                None => errs.push(
                    apath,
                    format!(
                        "unknown dimension '{dim}'{}",
                        did_you_mean(dim, cx.dims.iter().map(String::as_str))
                    ),
                ),
            }
        }
        let add_category = match (&s.add_attr, s.amount) {
            (None, None) => None,
            (Some(attr), Some(amount)) => {
                if attr != "category" {
                    errs.push(
                        format!("{path}.add_attr"),
                        format!("unsupported attribute '{attr}' (only 'category')"),
                    );
                } else if !event_fields(s.on).contains(&EventField::Category) {
                    errs.push(
                        format!("{path}.add_attr"),
                        format!("{} events carry no category", s.on.name()),
                    );
                }
                if !(finite(amount) && amount.abs() <= 1000.0) {
                    errs.push(
                        format!("{path}.amount"),
                        format!("amount must be within ±1000, got {amount}"),
                    );
                }
                Some(to_centi(amount.clamp(-1000.0, 1000.0)) as i32)
            }
            (Some(_), None) => {
                errs.push(format!("{path}.amount"), "add_attr needs an amount");
                None
            }
            (None, Some(_)) => {
                errs.push(format!("{path}.add_attr"), "amount needs add_attr");
                None
            }
        };
        if s.add.is_empty() && add_category.is_none() && s.add_attr.is_none() {
            errs.push(
                &path,
                "a signal must add something (add, or add_attr with amount)",
            );
        }
        signals.push(Signal {
            on: s.on,
            when,
            add,
            add_category,
        });
    }
    signals
}

/// `policies`: deny/allow targets (which must match a slot) and their conditions.
pub(super) fn compile_policies(doc: &SiteDoc, cx: &Cx<'_>, errs: &mut Errors) -> Vec<Policy> {
    let p = |k: &str| join(cx.base, k);
    let mut policies = Vec::new();
    for (i, pd) in doc.policies.iter().enumerate() {
        let path = format!("{}[{i}]", p("policies"));
        let (deny, target) = match (&pd.deny, &pd.allow) {
            (Some(t), None) => (true, t.clone()),
            (None, Some(t)) => (false, t.clone()),
            _ => {
                errs.push(&path, "a policy needs exactly one of 'deny' or 'allow'");
                continue;
            }
        };
        let key = if deny { "deny" } else { "allow" };
        match target.split_once(':') {
            Some((slot_glob, var_glob)) if !slot_glob.is_empty() && !var_glob.is_empty() => {
                if !doc.slots.keys().any(|s| expr::glob_match(slot_glob, s)) {
                    errs.push(
                        format!("{path}.{key}"),
                        format!("'{target}' matches no slot"),
                    );
                }
            }
            _ => errs.push(
                format!("{path}.{key}"),
                format!("target '{target}' must be 'slot:variant' (globs allowed)"),
            ),
        }
        let when = pd
            .when
            .as_deref()
            .and_then(|w| compile_expr(w, &cx.scope(None), &format!("{path}.when"), errs));
        if pd.reason.trim().is_empty() {
            errs.push(format!("{path}.reason"), "must explain the policy");
        }
        policies.push(Policy {
            deny,
            target,
            when,
            reason: pd.reason.clone(),
        });
    }
    policies
}

/// `experiments`: holdouts over slots (a slot in at most one), control share in basis points.
pub(super) fn compile_experiments(
    doc: &SiteDoc,
    base: &str,
    slots: &mut [Slot],
    errs: &mut Errors,
) -> Vec<Experiment> {
    let p = |k: &str| join(base, k);
    let mut experiments = Vec::new();
    for (name, ed) in &doc.experiments {
        let path = join(&p("experiments"), name);
        if !valid_name(name) {
            errs.push(&path, format!("'{name}' is not a valid experiment name"));
        }
        let control_percent = within(
            ed.control_percent,
            (0.0, 100.0),
            format!("{path}.control_percent"),
            errs,
        );
        if ed.slots.is_empty() {
            errs.push(format!("{path}.slots"), "needs at least one slot");
        }
        let mut idxs = Vec::new();
        for (si, s) in ed.slots.iter().enumerate() {
            let spath = format!("{path}.slots[{si}]");
            match slots.iter().position(|x| &x.name == s) {
                Some(idx) => {
                    if let Some(prev) = slots[idx].experiment {
                        let other: &Experiment = &experiments[prev];
                        errs.push(
                            spath,
                            format!("slot '{s}' is already in experiment '{}'", other.name),
                        );
                    } else {
                        slots[idx].experiment = Some(experiments.len());
                        idxs.push(idx);
                    }
                }
                None => errs.push(spath, format!("unknown slot '{s}'")),
            }
        }
        let control_bp = libm::round(control_percent * 100.0) as u32;
        experiments.push(Experiment {
            name: name.clone(),
            slots: idxs,
            control_bp,
        });
    }
    experiments
}

/// `privacy`, `limits` and `events`: each value checked against its range and clamped into it.
pub(super) fn compile_limits(
    doc: &SiteDoc,
    base: &str,
    errs: &mut Errors,
) -> (Privacy, Limits, EventsConfig) {
    let (l, pr) = (&doc.limits, &doc.privacy);
    let at = |section: &str, field: &str| format!("{}.{field}", join(base, section));
    let max_events = within(l.max_events, (1, 32), at("limits", "max_events"), errs);
    let max_event_gain = within(
        l.max_event_gain,
        (0.0, 1000.0),
        at("limits", "max_event_gain"),
        errs,
    );
    let recent_items = within(l.recent_items, (0, 16), at("limits", "recent_items"), errs);
    let idle = within(
        l.session_idle_minutes,
        (1, 1440),
        at("limits", "session_idle_minutes"),
        errs,
    );
    let page_sample = within(
        doc.events.page_sample,
        (0.0, 1.0),
        at("events", "page_sample"),
        errs,
    );
    if l.max_buffer_bytes < 1024 {
        errs.push(
            at("limits", "max_buffer_bytes"),
            format!("must be at least 1024, got {}", l.max_buffer_bytes),
        );
    }
    let max_age_days = within(
        pr.state_max_age_days,
        (1, 400),
        at("privacy", "state_max_age_days"),
        errs,
    );
    let privacy = Privacy {
        honor_gpc: pr.honor_gpc,
        state_max_age_secs: max_age_days * 86_400,
        consent: super::consent::compile_consent(&pr.consent, &at("privacy", "consent"), errs),
    };
    let limits = Limits {
        max_events: usize::from(max_events),
        max_event_gain: to_centi(max_event_gain) as u32,
        recent_items: usize::from(recent_items),
        session_idle_secs: idle * 60,
    };
    let events = EventsConfig {
        page_sample_ppm: (page_sample * 1e6).round() as u32,
        page_query: Vec::new(),
        purchases_from_origin: doc.events.purchases == crate::config::model::PurchasesDoc::Origin,
    };
    (privacy, limits, events)
}

/// Orders segments so each comes after the segments it reads; reports cycles.
pub(super) fn order_segments(segments: &[Segment], path: &str, errs: &mut Errors) -> Vec<usize> {
    let deps: Vec<Vec<usize>> = segments
        .iter()
        .map(|s| {
            let mut vars = Vec::new();
            s.expr.vars(&mut vars);
            vars.into_iter()
                .filter_map(|v| {
                    if let Var::Segment(i) = v {
                        Some(i)
                    } else {
                        None
                    }
                })
                .collect()
        })
        .collect();
    // 0 = unvisited, 1 = on the stack, 2 = done.
    let mut mark = vec![0u8; segments.len()];
    let mut order = Vec::with_capacity(segments.len());
    fn visit(
        i: usize,
        deps: &[Vec<usize>],
        mark: &mut [u8],
        order: &mut Vec<usize>,
        stack: &mut Vec<usize>,
    ) -> Option<Vec<usize>> {
        match mark[i] {
            2 => return None,
            1 => {
                let start = stack.iter().position(|&s| s == i).unwrap_or(0);
                let mut cycle = stack[start..].to_vec();
                cycle.push(i);
                return Some(cycle);
            }
            _ => {}
        }
        mark[i] = 1;
        stack.push(i);
        for &d in &deps[i] {
            if let Some(c) = visit(d, deps, mark, order, stack) {
                return Some(c);
            }
        }
        stack.pop();
        mark[i] = 2;
        order.push(i);
        None
    }
    for i in 0..segments.len() {
        let mut stack = Vec::new();
        if let Some(cycle) = visit(i, &deps, &mut mark, &mut order, &mut stack) {
            let names: Vec<&str> = cycle.iter().map(|&c| segments[c].name.as_str()).collect();
            errs.push(
                join(path, names[0]),
                format!("segments form a cycle: {}", names.join(" -> ")),
            );
            for &c in &cycle {
                mark[c] = 2;
            }
        }
    }
    order
}
