//! Lint: mistakes a valid configuration can still hold. Findings name the JSON path.
//!
//! Only decidable cases are reported: a finding is a certainty, never a guess.

use std::collections::BTreeMap;
use std::fmt;

use super::compile::join;
use super::{Action, Config, Pick, Site, Slot};
use crate::expr::{Builtin, CmpOp, Expr, Literal, Operand, Var};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Worth knowing, not a mistake (`check` prints it; `--deny-warnings` lets it pass).
    Note,
    Warning,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    pub path: String,
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        write!(f, "{sev}: {}: {}", self.path, self.message)
    }
}

/// Lints every site of a loaded configuration.
pub fn lint(config: &Config) -> Vec<Finding> {
    let multi = config.sites.len() > 1;
    let mut out = Vec::new();
    for (i, site) in config.sites.iter().enumerate() {
        let base = if multi {
            format!("sites[{i}]")
        } else {
            String::new()
        };
        lint_site(site, &base, &mut out);
    }
    out
}

fn lint_site(site: &Site, base: &str, out: &mut Vec<Finding>) {
    let mut warn = |path: String, message: String| {
        out.push(Finding {
            severity: Severity::Warning,
            path,
            message,
        })
    };
    let p = |k: &str| join(base, k);

    for seg in &site.segments {
        if let Some(v) = constant(&seg.expr, site) {
            warn(
                join(&p("segments"), &seg.name),
                format!("segment is always {v}"),
            );
        }
    }
    let mut used = vec![false; site.segments.len()];
    let mut mark = |e: &Expr| {
        let mut vars = Vec::new();
        e.vars(&mut vars);
        for v in vars {
            if let Var::Segment(i) = v {
                used[i] = true;
            }
        }
    };
    site.segments.iter().for_each(|s| mark(&s.expr));
    site.policies
        .iter()
        .filter_map(|p| p.when.as_ref())
        .for_each(&mut mark);
    for slot in &site.slots {
        slot.when.iter().for_each(&mut mark);
        slot.variants
            .iter()
            .filter_map(|v| v.when.as_ref())
            .for_each(&mut mark);
    }
    for (i, seg) in site.segments.iter().enumerate() {
        if !used[i] {
            warn(
                join(&p("segments"), &seg.name),
                "segment is never used".into(),
            );
        }
    }

    for (i, sig) in site.signals.iter().enumerate() {
        if let Some(w) = &sig.when {
            if constant(w, site) == Some(false) {
                warn(
                    format!("{}[{i}].where", p("signals")),
                    "condition is never true; the signal never fires".into(),
                );
            }
        }
    }
    for (d, dim) in site.dimensions.iter().enumerate() {
        let fed = site.signals.iter().any(|s| {
            s.add.iter().any(|(i, a)| *i == d && *a > 0) || s.add_category.is_some_and(|a| a > 0)
        });
        if !fed {
            warn(
                join(&p("dimensions"), &dim.name),
                "no signal adds to this dimension".into(),
            );
        }
    }

    lint_top_dimension(site, &p("dimensions"), out);
    for (i, slot) in site.slots.iter().enumerate() {
        lint_slot(site, slot, &join(&p("slots"), &slot.name), out);
        // Two reorders of one container: both rank it, and its items are recorded twice.
        let twin = site.slots[..i].iter().find(|s| {
            s.action == Action::Reorder
                && slot.action == Action::Reorder
                && s.selector_source == slot.selector_source
        });
        if let Some(first) = twin {
            out.push(Finding {
                severity: Severity::Warning,
                path: join(&p("slots"), &slot.name),
                message: format!(
                    "reorders the same elements as slot '{}' (`{}`): keep one",
                    first.name, slot.selector_source
                ),
            });
        }
    }
    lint_policies(site, &p("policies"), out);
    lint_consent(site, &join(&p("privacy"), "consent"), out);
    for exp in &site.experiments {
        if exp.control_bp == 10_000 {
            out.push(Finding {
                severity: Severity::Warning,
                path: format!("{}.control_percent", join(&p("experiments"), &exp.name)),
                message: "every visitor is in control; its slots are never personalized".into(),
            });
        }
    }
}

fn lint_slot(site: &Site, slot: &Slot, path: &str, out: &mut Vec<Finding>) {
    for (i, v) in slot.variants.iter().enumerate() {
        let vpath = format!("{path}.variants[{i}]");
        if let Some(html) = &v.html {
            if let Err(msg) = check_balanced(html.source()) {
                out.push(Finding {
                    severity: Severity::Error,
                    path: format!("{vpath}.html"),
                    message: msg,
                });
            }
        }
        if let Some(w) = &v.when {
            if constant(w, site) == Some(false) {
                out.push(Finding {
                    severity: Severity::Warning,
                    path: format!("{vpath}.when"),
                    message: format!("condition is never true; variant '{}' is never shown", v.id),
                });
            }
        }
        if slot.pick != Pick::FirstMatch {
            continue;
        }
        // An earlier variant that is always eligible when this one is makes this one unreachable.
        // Earlier variants that policies or requirements can disqualify are not counted.
        for (j, earlier) in slot.variants[..i].iter().enumerate() {
            if earlier.requires_signed || !earlier.policies.is_empty() {
                continue;
            }
            let message = match (&earlier.when, &v.when) {
                (None, _) => format!(
                    "unreachable: variants[{j}] ('{}') has no condition and always matches first",
                    earlier.id
                ),
                (Some(e), _) if constant(e, site) == Some(true) => {
                    format!(
                        "unreachable: variants[{j}] ('{}') is always true and matches first",
                        earlier.id
                    )
                }
                (Some(e), Some(w)) if implies(w, e) => {
                    format!(
                        "shadowed: whenever this matches, variants[{j}] ('{}') matches first",
                        earlier.id
                    )
                }
                _ => continue,
            };
            out.push(Finding {
                severity: Severity::Warning,
                path: vpath.clone(),
                message,
            });
            break;
        }
    }
    if let Some(w) = &slot.when {
        if constant(w, site) == Some(false) {
            out.push(Finding {
                severity: Severity::Warning,
                path: format!("{path}.when"),
                message: "condition is never true; the slot is never reordered".into(),
            });
        }
    }
}

/// The values `top_dimension` is compared with (`==`, `!=`, `in`) in `e`.
fn top_names<'e>(e: &'e Expr, out: &mut Vec<&'e str>) {
    let top = Var::Builtin(Builtin::TopDimension);
    match e {
        Expr::Not(a) => top_names(a, out),
        Expr::And(a, b) | Expr::Or(a, b) => {
            top_names(a, out);
            top_names(b, out);
        }
        Expr::Cmp(Operand::Var(v), _, Operand::Lit(Literal::Str(s)))
        | Expr::Cmp(Operand::Lit(Literal::Str(s)), _, Operand::Var(v))
            if *v == top =>
        {
            out.push(s)
        }
        Expr::In(v, lits) if *v == top => out.extend(lits.iter().filter_map(|l| match l {
            Literal::Str(s) => Some(s.as_str()),
            _ => None,
        })),
        _ => {}
    }
}

/// A dimension fed by fixed signals (a need, a price sensitivity) that can be `top_dimension`
/// while no condition names it there: a high score in it turns every `top_dimension == '…'`
/// false for a shopper who also has that interest. A certainty, not a guess: say `top: false`
/// or name it.
/// Consent not asked is noted; a signal only the page can read is a warning for the worker.
fn lint_consent(site: &Site, path: &str, out: &mut Vec<Finding>) {
    let (severity, message) = match &site.privacy.consent {
        None => (
            Severity::Note,
            "none: the state cookie is set and behavior recorded from the first page view, \
             without asking the shop's consent platform (docs/privacy.md)",
        ),
        Some(c) if c.cookie.is_empty() && c.tcf_cookie.is_empty() => (
            Severity::Warning,
            "only consent_mode, which the page alone can read: behind the worker every request \
             is decided from its context only; add a cookie or tcf signal the worker reads too",
        ),
        Some(_) => return,
    };
    out.push(Finding {
        severity,
        path: path.to_string(),
        message: message.into(),
    });
}

fn lint_top_dimension(site: &Site, path: &str, out: &mut Vec<Finding>) {
    let mut vars = Vec::new();
    let mut named = Vec::new();
    for e in site.conditions() {
        e.vars(&mut vars);
        top_names(e, &mut named);
    }
    if !vars.contains(&Var::Builtin(Builtin::TopDimension)) {
        return;
    }
    for (d, dim) in site.dimensions.iter().enumerate() {
        let fixed = site
            .signals
            .iter()
            .any(|s| s.add.iter().any(|(i, a)| *i == d && *a > 0));
        if dim.top && fixed && !named.contains(&dim.name.as_str()) {
            out.push(Finding {
                severity: Severity::Warning,
                path: join(path, &dim.name),
                message: format!(
                    "can be top_dimension, which conditions compare with other dimensions only: a visitor with a high {0} score has top_dimension '{0}', turning those comparisons false; set \"top\": false if {0} is not an interest",
                    dim.name
                ),
            });
        }
    }
}

fn lint_policies(site: &Site, path: &str, out: &mut Vec<Finding>) {
    // Every (slot, variant) a policy can target.
    let targets: Vec<(&str, &str)> = site
        .slots
        .iter()
        .flat_map(|s| {
            let ids: Vec<&str> = if s.variants.is_empty() {
                vec![super::REORDER_VARIANT]
            } else {
                s.variants.iter().map(|v| v.id.as_str()).collect()
            };
            ids.into_iter().map(move |id| (s.name.as_str(), id))
        })
        .collect();
    let covers = |target: &str, slot: &str, variant: &str| {
        target.split_once(':').is_some_and(|(s, v)| {
            crate::expr::glob_match(s, slot) && crate::expr::glob_match(v, variant)
        })
    };
    for (i, a) in site.policies.iter().enumerate() {
        for (j, b) in site.policies.iter().enumerate().skip(i + 1) {
            let shared: Vec<String> = targets
                .iter()
                .filter(|(s, v)| covers(&a.target, s, v) && covers(&b.target, s, v))
                .map(|(s, v)| format!("{s}:{v}"))
                .collect();
            if shared.is_empty() {
                continue;
            }
            let same_condition = a.when == b.when;
            let message = match (a.deny, b.deny) {
                (true, false) | (false, true)
                    if same_condition
                        || (a.deny && a.when.is_none())
                        || (b.deny && b.when.is_none()) =>
                {
                    let (deny, allow, di, ai) = if a.deny { (a, b, i, j) } else { (b, a, j, i) };
                    format!(
                        "conflicts with policies[{di}]: policies[{ai}] allows {} but policies[{di}] denies it {}; deny wins ({})",
                        shared.join(", "),
                        if deny.when.is_none() { "always" } else { "under the same condition" },
                        allow.reason
                    )
                }
                (x, y) if x == y && same_condition => format!(
                    "duplicates policies[{i}] for {} (same effect, same condition)",
                    shared.join(", ")
                ),
                _ => continue,
            };
            out.push(Finding {
                severity: Severity::Warning,
                path: format!("{path}[{j}]"),
                message,
            });
        }
    }
}

/// Whether `a` implies `b` by conjunct inclusion: every conjunct of `b` is a conjunct of `a`.
fn implies(a: &Expr, b: &Expr) -> bool {
    let ca = a.conjuncts();
    b.conjuncts().iter().all(|cb| ca.iter().any(|x| x == cb))
}

/// The value of an expression when it is the same for every request, where that is decidable.
pub(crate) fn constant(e: &Expr, site: &Site) -> Option<bool> {
    match e {
        Expr::Const(b) => Some(*b),
        // Segments cannot form cycles (load rejects them), so this recursion ends.
        Expr::Truthy(Var::Segment(i)) => constant(&site.segments[*i].expr, site),
        Expr::Not(x) => constant(x, site).map(|b| !b),
        Expr::Or(a, b) => match (constant(a, site), constant(b, site)) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ if is_negation_of(a, b) => Some(true),
            _ => None,
        },
        Expr::And(..) => {
            let parts = e.conjuncts();
            let values: Vec<Option<bool>> = parts.iter().map(|p| constant(p, site)).collect();
            if values.contains(&Some(false)) || contradictory(&parts, site) {
                Some(false)
            } else if values.iter().all(|v| *v == Some(true)) {
                Some(true)
            } else {
                None
            }
        }
        Expr::Cmp(Operand::Var(v), op, Operand::Lit(Literal::Num(n))) => {
            let (lo, hi) = range_of(v, site)?;
            let r = interval(*op, *n)?;
            if r.0 > hi || r.1 < lo || (r.0 == hi && r.2) || (r.1 == lo && r.3) {
                Some(false)
            } else if r.0 <= lo && r.1 >= hi && !(r.0 == lo && r.2) && !(r.1 == hi && r.3) {
                Some(true)
            } else {
                None
            }
        }
        Expr::In(_, items) if items.is_empty() => Some(false),
        Expr::HasAny(_, words) if words.is_empty() => Some(false),
        _ => None,
    }
}

fn is_negation_of(a: &Expr, b: &Expr) -> bool {
    matches!(b, Expr::Not(x) if **x == *a) || matches!(a, Expr::Not(x) if **x == *b)
}

/// The values a numeric variable can take, where bounded.
fn range_of(v: &Var, site: &Site) -> Option<(f64, f64)> {
    match v {
        Var::Score(i) => Some((0.0, f64::from(site.dimensions[*i].cap) / 100.0)),
        Var::Builtin(b) => b.range(),
        _ => None,
    }
}

/// The interval `x op n` accepts: (low, high, low open, high open).
fn interval(op: CmpOp, n: f64) -> Option<(f64, f64, bool, bool)> {
    Some(match op {
        CmpOp::Eq => (n, n, false, false),
        CmpOp::Lt => (f64::NEG_INFINITY, n, false, true),
        CmpOp::Le => (f64::NEG_INFINITY, n, false, false),
        CmpOp::Gt => (n, f64::INFINITY, true, false),
        CmpOp::Ge => (n, f64::INFINITY, false, false),
        CmpOp::Ne => return None,
    })
}

/// Whether the numeric bounds or string equalities of a conjunction on one variable exclude each other.
fn contradictory(parts: &[&Expr], site: &Site) -> bool {
    let mut bounds: BTreeMap<String, (f64, f64, bool, bool)> = BTreeMap::new();
    let mut equals: BTreeMap<String, &str> = BTreeMap::new();
    for p in parts {
        match p {
            Expr::Cmp(Operand::Var(v), op, Operand::Lit(Literal::Num(n))) => {
                let Some(r) = interval(*op, *n) else { continue };
                let key = site.var_name(v);
                let b =
                    bounds
                        .entry(key)
                        .or_insert((f64::NEG_INFINITY, f64::INFINITY, false, false));
                if r.0 > b.0 || (r.0 == b.0 && r.2) {
                    b.0 = r.0;
                    b.2 = r.2;
                }
                if r.1 < b.1 || (r.1 == b.1 && r.3) {
                    b.1 = r.1;
                    b.3 = r.3;
                }
                if b.0 > b.1 || (b.0 == b.1 && (b.2 || b.3)) {
                    return true;
                }
            }
            Expr::Cmp(Operand::Var(v), CmpOp::Eq, Operand::Lit(Literal::Str(s))) => {
                if let Some(prev) = equals.insert(site.var_name(v), s) {
                    if prev != s {
                        return true;
                    }
                }
            }
            _ => {}
        }
    }
    false
}

const VOID: [&str; 14] = [
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr",
];

/// Checks that every element opened in an HTML fragment is closed, in order.
pub fn check_balanced(html: &str) -> Result<(), String> {
    let mut stack: Vec<String> = Vec::new();
    let b = html.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'<' {
            i += 1;
            continue;
        }
        if html[i..].starts_with("<!--") {
            match html[i + 4..].find("-->") {
                Some(end) => i += 4 + end + 3,
                None => return Err("unclosed comment '<!--'".into()),
            }
            continue;
        }
        if html[i..].starts_with("<!") || html[i..].starts_with("<?") {
            i += html[i..].find('>').map_or(b.len() - i, |e| e + 1);
            continue;
        }
        let closing = b.get(i + 1) == Some(&b'/');
        let start = i + 1 + usize::from(closing);
        let name_len = html[start..]
            .bytes()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == b'-')
            .count();
        if name_len == 0 {
            i += 1; // a literal '<'
            continue;
        }
        let name = html[start..start + name_len].to_ascii_lowercase();
        // Find the tag's end, skipping quoted attribute values.
        let mut j = start + name_len;
        let mut quote = None;
        while j < b.len() {
            match (quote, b[j]) {
                (None, b'"' | b'\'') => quote = Some(b[j]),
                (Some(q), c) if c == q => quote = None,
                (None, b'>') => break,
                _ => {}
            }
            j += 1;
        }
        if j >= b.len() {
            return Err(format!("unterminated tag <{name}"));
        }
        let self_closing = b[j - 1] == b'/';
        i = j + 1;
        if closing {
            match stack.pop() {
                Some(open) if open == name => {}
                Some(open) => return Err(format!("</{name}> closes <{open}>")),
                None => return Err(format!("</{name}> has no opening tag")),
            }
        } else if !self_closing && !VOID.contains(&name.as_str()) {
            if name == "script" || name == "style" {
                let close = format!("</{name}");
                match html[i..].to_ascii_lowercase().find(&close) {
                    Some(end) => i += end,
                    None => return Err(format!("unclosed <{name}>")),
                }
            }
            stack.push(name);
        }
    }
    match stack.pop() {
        Some(open) => Err(format!("unclosed <{open}>")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::check_balanced;

    #[test]
    fn balanced_html() {
        assert_eq!(
            check_balanced("<h2>Hi <b>there</b></h2><img src='a>b'><br/>"),
            Ok(())
        );
        assert_eq!(
            check_balanced("a < b <!-- <div> --> <script>if (a<b) {}</script>"),
            Ok(())
        );
        assert_eq!(
            check_balanced("<div><p>x</div>"),
            Err("</div> closes <p>".into())
        );
        assert_eq!(check_balanced("<div>"), Err("unclosed <div>".into()));
        assert_eq!(
            check_balanced("</span>"),
            Err("</span> has no opening tag".into())
        );
        assert_eq!(
            check_balanced("<a href=\"x"),
            Err("unterminated tag <a".into())
        );
        assert_eq!(
            check_balanced("<!-- x"),
            Err("unclosed comment '<!--'".into())
        );
    }
}
