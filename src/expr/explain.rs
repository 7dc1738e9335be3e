//! Explanation: the facts that made an expression true or false, written into a reason.

use std::fmt;

use super::eval::lit_value;
use super::{CmpOp, Expr, Facts, Operand, Value, Var};

impl Expr {
    /// Writes the facts that made this expression true (or false) — the leaves of the branch
    /// that decided, each with the value it read — as a comma-separated list.
    pub fn explain(&self, facts: &dyn Facts, out: &mut Explanation<'_>) {
        let want = self.eval(facts);
        self.explain_as(facts, want, out);
    }

    fn explain_as(&self, facts: &dyn Facts, want: bool, out: &mut Explanation<'_>) {
        use fmt::Write as _;
        match self {
            Expr::Const(b) => {
                out.leaf();
                let _ = write!(out.text, "{b}");
            }
            Expr::Not(e) => e.explain_as(facts, !want, out),
            // A true `&&` / false `||` needs every side; otherwise the first deciding side suffices.
            Expr::And(a, b) | Expr::Or(a, b) => {
                let all = matches!(self, Expr::And(..)) == want;
                if all {
                    a.explain_as(facts, want, out);
                    b.explain_as(facts, want, out);
                } else if a.eval(facts) == want {
                    a.explain_as(facts, want, out);
                } else {
                    b.explain_as(facts, want, out);
                }
            }
            Expr::Truthy(v) => {
                out.leaf();
                if !want {
                    out.text.push_str("not ");
                }
                out.name(v);
            }
            Expr::Cmp(a, op, b) => {
                out.leaf();
                match (a, op, b, want) {
                    // `top_dimension == 'hiking'` that holds reads best as `top_dimension='hiking'`.
                    (Operand::Var(v), CmpOp::Eq, Operand::Lit(_), true) => out.var_value(v, facts),
                    _ => {
                        out.operand(a, facts);
                        out.text.push(' ');
                        out.text.push_str(if want {
                            pretty_op(*op)
                        } else {
                            pretty_op(negate(*op))
                        });
                        out.text.push(' ');
                        out.operand(b, facts);
                    }
                }
            }
            Expr::In(v, items) => {
                out.leaf();
                out.var_value(v, facts);
                out.text.push_str(if want { " in [" } else { " not in [" });
                for (i, l) in items.iter().enumerate() {
                    if i > 0 {
                        out.text.push_str(", ");
                    }
                    write_value(&mut out.text, lit_value(l));
                }
                out.text.push(']');
            }
            Expr::HasAny(v, words) => {
                out.leaf();
                out.name(v);
                out.text.push_str(if want {
                    " has any of ["
                } else {
                    " has none of ["
                });
                out.text.push_str(&words.join(", "));
                out.text.push(']');
            }
            Expr::Glob(v, pat) => {
                out.leaf();
                out.var_value(v, facts);
                let _ = write!(out.text, "{} '{pat}'", if want { " ~" } else { " !~" });
            }
        }
    }
}

fn negate(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Eq => CmpOp::Ne,
        CmpOp::Ne => CmpOp::Eq,
        CmpOp::Lt => CmpOp::Ge,
        CmpOp::Le => CmpOp::Gt,
        CmpOp::Gt => CmpOp::Le,
        CmpOp::Ge => CmpOp::Lt,
    }
}

fn pretty_op(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Le => "≤",
        CmpOp::Ge => "≥",
        CmpOp::Ne => "≠",
        other => other.symbol(),
    }
}

/// Writes a number with at most two decimals and no trailing zeros, by integer formatting
/// (reasons are built on every request).
pub fn write_num(out: &mut String, n: f64) {
    use fmt::Write as _;
    let centi = libm::round(n * 100.0);
    if centi.is_nan() {
        out.push_str("NaN");
        return;
    }
    if centi.abs() >= 1e17 {
        // Beyond 10^15: sign, infinity or scientific notation with two decimals (no float
        // formatting code from core in the wasm bundles).
        if n < 0.0 {
            out.push('-');
        }
        let n = n.abs();
        if n.is_infinite() {
            out.push_str("inf");
            return;
        }
        let (mut m, mut exp) = (n, 0);
        while m >= 10.0 {
            m /= 10.0;
            exp += 1;
        }
        let mut mantissa = libm::round(m * 100.0) as u64;
        if mantissa >= 1000 {
            mantissa /= 10;
            exp += 1;
        }
        write_num(out, mantissa as f64 / 100.0);
        let _ = write!(out, "e{exp}");
        return;
    }
    let centi = centi as i64;
    if centi < 0 {
        out.push('-');
    }
    let (whole, frac) = (centi.unsigned_abs() / 100, centi.unsigned_abs() % 100);
    let _ = write!(out, "{whole}");
    match frac {
        0 => {}
        f if f % 10 == 0 => {
            let _ = write!(out, ".{}", f / 10);
        }
        f => {
            let _ = write!(out, ".{f:02}");
        }
    }
}

/// [`write_num`] into a new string.
pub fn render_num(n: f64) -> String {
    let mut s = String::new();
    write_num(&mut s, n);
    s
}

fn write_value(out: &mut String, v: Value<'_>) {
    match v {
        Value::Num(n) => write_num(out, n),
        Value::Str(s) => {
            out.push('\'');
            out.push_str(s);
            out.push('\'');
        }
        Value::Bool(b) => out.push_str(if b { "true" } else { "false" }),
        Value::List(l) => {
            out.push('[');
            out.push_str(&l.join(", "));
            out.push(']');
        }
        Value::Missing => out.push_str("missing"),
    }
}

/// A reason being written: the facts of an explanation, comma-separated, with nested lists in
/// parentheses (a segment and the facts that made it true).
pub struct Explanation<'a> {
    pub text: String,
    fresh: bool,
    names: &'a dyn Fn(&Var, &mut Explanation<'a>),
}

impl<'a> Explanation<'a> {
    /// `names` writes a variable's name; it may open a nested list (see [`Explanation::open`]).
    pub fn new(text: String, names: &'a dyn Fn(&Var, &mut Explanation<'a>)) -> Explanation<'a> {
        Explanation {
            text,
            fresh: true,
            names,
        }
    }
    /// Starts a new item of the current list.
    pub fn leaf(&mut self) {
        if !self.fresh {
            self.text.push_str(", ");
        }
        self.fresh = false;
    }
    /// Opens a nested list: ` (`.
    pub fn open(&mut self) {
        self.text.push_str(" (");
        self.fresh = true;
    }
    pub fn close(&mut self) {
        self.text.push(')');
        self.fresh = false;
    }
    fn name(&mut self, v: &Var) {
        let names = self.names;
        names(v, self);
    }
    fn var_value(&mut self, v: &Var, facts: &dyn Facts) {
        self.name(v);
        self.text.push('=');
        write_value(&mut self.text, facts.value(v));
    }
    fn operand(&mut self, o: &Operand, facts: &dyn Facts) {
        match o {
            Operand::Var(v) => self.var_value(v, facts),
            Operand::Lit(l) => write_value(&mut self.text, lit_value(l)),
        }
    }
}
