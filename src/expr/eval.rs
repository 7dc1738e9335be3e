//! Evaluation: an [`Expr`] against the request's [`Facts`].

use super::{CmpOp, Expr, Facts, Literal, Operand, Value, Var};

/// Glob match with `*` (any run) and `?` (one character); ASCII case-insensitive.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p = pattern.as_bytes();
    let t = text.as_bytes();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi].eq_ignore_ascii_case(&t[ti])) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

pub(super) fn lit_value(l: &Literal) -> Value<'_> {
    match l {
        Literal::Num(n) => Value::Num(*n),
        Literal::Str(s) => Value::Str(s),
        Literal::Bool(b) => Value::Bool(*b),
    }
}

fn operand_value<'a>(o: &'a Operand, facts: &'a dyn Facts) -> Value<'a> {
    match o {
        Operand::Var(v) => facts.value(v),
        Operand::Lit(l) => lit_value(l),
    }
}

fn compare(a: Value<'_>, op: CmpOp, b: Value<'_>) -> bool {
    match (a, b) {
        (Value::Num(x), Value::Num(y)) => x.partial_cmp(&y).is_some_and(|o| op.holds(o)),
        (Value::Str(x), Value::Str(y)) => op.holds(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => op.holds(x.cmp(&y)),
        _ => false,
    }
}

impl Expr {
    pub fn eval(&self, facts: &dyn Facts) -> bool {
        match self {
            Expr::Const(b) => *b,
            Expr::Truthy(v) => matches!(facts.value(v), Value::Bool(true)),
            Expr::Not(e) => !e.eval(facts),
            Expr::And(a, b) => a.eval(facts) && b.eval(facts),
            Expr::Or(a, b) => a.eval(facts) || b.eval(facts),
            Expr::Cmp(a, op, b) => compare(operand_value(a, facts), *op, operand_value(b, facts)),
            Expr::In(v, items) => {
                let x = facts.value(v);
                items.iter().any(|l| compare(x, CmpOp::Eq, lit_value(l)))
            }
            Expr::HasAny(v, words) => match facts.value(v) {
                Value::List(have) => have
                    .iter()
                    .any(|h| words.iter().any(|w| h.eq_ignore_ascii_case(w))),
                _ => false,
            },
            Expr::Glob(v, pat) => matches!(facts.value(v), Value::Str(s) if glob_match(pat, s)),
        }
    }

    /// The top-level conjuncts of this expression (`a && b && c` → `[a, b, c]`).
    pub fn conjuncts(&self) -> Vec<&Expr> {
        match self {
            Expr::And(a, b) => {
                let mut v = a.conjuncts();
                v.extend(b.conjuncts());
                v
            }
            other => vec![other],
        }
    }

    /// Every variable this expression reads.
    pub fn vars(&self, out: &mut Vec<Var>) {
        match self {
            Expr::Const(_) => {}
            Expr::Truthy(v) | Expr::In(v, _) | Expr::HasAny(v, _) | Expr::Glob(v, _) => {
                out.push(v.clone())
            }
            Expr::Not(e) => e.vars(out),
            Expr::And(a, b) | Expr::Or(a, b) => {
                a.vars(out);
                b.vars(out);
            }
            Expr::Cmp(a, _, b) => {
                for o in [a, b] {
                    if let Operand::Var(v) = o {
                        out.push(v.clone());
                    }
                }
            }
        }
    }
}
