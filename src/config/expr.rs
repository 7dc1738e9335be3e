//! The condition language of segments, signals, variants and policies.
//!
//! ```text
//! expr   := or
//! or     := and ("||" and)*
//! and    := unary ("&&" unary)*
//! unary  := "!" unary | "(" expr ")" | test
//! test   := operand (cmp operand | "in" list | "has_any" list | "has" literal | "~" string)?
//! cmp    := "==" | "!=" | "<" | "<=" | ">" | ">="
//! operand:= name | number | string | "true" | "false"
//! list   := "[" (literal ("," literal)*)? "]"
//! ```
//!
//! Names resolve against a [`Scope`] at load time; the result is a typed [`Expr`] whose variables
//! are indices ([`Var`]), so evaluation never looks a name up. A comparison with a missing value
//! (a trait the origin did not send, a query parameter that is absent) is false.

use std::fmt;

use serde::Serialize;

/// A compiled, type-checked condition.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(serde::Deserialize))]
pub enum Expr {
    Const(bool),
    /// A boolean variable (a segment, `gpc`, `session.is_new`, …).
    Truthy(Var),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Cmp(Operand, CmpOp, Operand),
    /// `var in [..]`: string or number membership.
    In(Var, Vec<Literal>),
    /// `list_var has_any [..]`.
    HasAny(Var, Vec<String>),
    /// `string_var ~ 'glob*'`.
    Glob(Var, String),
}

/// One side of a comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(serde::Deserialize))]
pub enum Operand {
    Var(Var),
    Lit(Literal),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(serde::Deserialize))]
pub enum Literal {
    Num(f64),
    Str(String),
    Bool(bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(serde::Deserialize))]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
    fn flip(self) -> CmpOp {
        match self {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Le => CmpOp::Ge,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Ge => CmpOp::Le,
            other => other,
        }
    }
    fn holds(self, ord: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            CmpOp::Eq => ord == Equal,
            CmpOp::Ne => ord != Equal,
            CmpOp::Lt => ord == Less,
            CmpOp::Le => ord != Greater,
            CmpOp::Gt => ord == Greater,
            CmpOp::Ge => ord != Less,
        }
    }
}

/// A resolved name. Indices point into the compiled site (dimensions, segments).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(test, derive(serde::Deserialize))]
pub enum Var {
    Score(usize),
    TopDimension,
    Visits,
    SessionPageViews,
    SessionIsNew,
    Trait(TraitField),
    Geo(GeoField),
    Device,
    Referrer,
    Gpc,
    Signed,
    Query(String),
    PageType,
    PagePath,
    PageParam(String),
    TimeHour,
    TimeWeekday,
    Segment(usize),
    Event(EventField),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(test, derive(serde::Deserialize))]
pub enum TraitField {
    Purchases90d,
    Aov,
    Tier,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(test, derive(serde::Deserialize))]
pub enum GeoField {
    Country,
    Region,
    City,
    Continent,
}

/// Fields of the event a signal is evaluated for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(test, derive(serde::Deserialize))]
pub enum EventField {
    Sku,
    Category,
    Price,
    Terms,
    Filter,
    Value,
}

impl EventField {
    pub fn name(self) -> &'static str {
        match self {
            EventField::Sku => "sku",
            EventField::Category => "category",
            EventField::Price => "price",
            EventField::Terms => "terms",
            EventField::Filter => "filter",
            EventField::Value => "value",
        }
    }
}

/// The static type of a name or literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Num,
    Str,
    Bool,
    List,
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Type::Num => "number",
            Type::Str => "string",
            Type::Bool => "boolean",
            Type::List => "list",
        })
    }
}

/// A run-time value read from the request's facts.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    Num(f64),
    Str(&'a str),
    Bool(bool),
    List(&'a [String]),
    Missing,
}

/// What an expression reads at run time.
pub trait Facts {
    fn value(&self, var: &Var) -> Value<'_>;
}

/// A parse or type error, with its 1-based column in the expression text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError {
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (column {})", self.message, self.column)
    }
}

/// Where an expression appears decides which names it may use.
pub trait Scope {
    /// Resolves a dotted name to a variable and its type, or says why it is unknown.
    fn resolve(&self, name: &str) -> Result<(Var, Type), String>;
    /// Checks a string literal compared with `var` (e.g. `top_dimension == 'hikng'`).
    fn check_literal(&self, _var: &Var, _literal: &str) -> Result<(), String> {
        Ok(())
    }
}

/// Longest accepted expression, in bytes: a guard against pathological config values.
pub const MAX_EXPR_LEN: usize = 4096;
const MAX_DEPTH: usize = 64;

/// Parses and type-checks `src` against `scope`.
pub fn compile(src: &str, scope: &dyn Scope) -> Result<Expr, ExprError> {
    if src.len() > MAX_EXPR_LEN {
        return Err(ExprError {
            column: 1,
            message: format!("expression longer than {MAX_EXPR_LEN} bytes"),
        });
    }
    let tokens = lex(src)?;
    let mut p = Parser {
        tokens,
        pos: 0,
        scope,
        depth: 0,
        end: src.chars().count() + 1,
    };
    if p.tokens.is_empty() {
        return Err(ExprError {
            column: 1,
            message: "empty expression".into(),
        });
    }
    let expr = p.or()?;
    if let Some(t) = p.peek() {
        return Err(ExprError {
            column: t.col,
            message: format!("unexpected {}", t.kind.describe()),
        });
    }
    Ok(expr)
}

// ---------------------------------------------------------------------------------------------
// Lexer

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Name(String),
    Num(f64),
    Str(String),
    Op(&'static str),
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Name(n) => format!("name '{n}'"),
            Tok::Num(n) => format!("number {n}"),
            Tok::Str(s) => format!("string '{s}'"),
            Tok::Op(o) => format!("'{o}'"),
        }
    }
}

#[derive(Debug, Clone)]
struct Token {
    kind: Tok,
    col: usize,
}

const OPS: [&str; 16] = [
    "==", "!=", "<=", ">=", "&&", "||", "<", ">", "!", "~", "(", ")", "[", "]", ",", "=",
];

fn lex(src: &str) -> Result<Vec<Token>, ExprError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '_' | '.' | '-'))
            {
                i += 1;
            }
            let name: String = chars[start..i].iter().collect();
            if name.ends_with('.') || name.contains("..") {
                return Err(ExprError {
                    column: col,
                    message: format!("malformed name '{name}'"),
                });
            }
            out.push(Token {
                kind: Tok::Name(name),
                col,
            });
        } else if c.is_ascii_digit()
            || (c == '-' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            let start = i;
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            let n: f64 = text.parse().map_err(|_| ExprError {
                column: col,
                message: format!("malformed number '{text}'"),
            })?;
            out.push(Token {
                kind: Tok::Num(n),
                col,
            });
        } else if c == '\'' || c == '"' {
            let quote = c;
            i += 1;
            let mut s = String::new();
            loop {
                match chars.get(i) {
                    None => {
                        return Err(ExprError {
                            column: col,
                            message: "unterminated string".into(),
                        })
                    }
                    Some(&'\\') if i + 1 < chars.len() => {
                        s.push(chars[i + 1]);
                        i += 2;
                    }
                    Some(&ch) if ch == quote => {
                        i += 1;
                        break;
                    }
                    Some(&ch) => {
                        s.push(ch);
                        i += 1;
                    }
                }
            }
            out.push(Token {
                kind: Tok::Str(s),
                col,
            });
        } else {
            let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
            let Some(op) = OPS.iter().find(|op| rest.starts_with(**op)) else {
                return Err(ExprError {
                    column: col,
                    message: format!("unexpected character '{c}'"),
                });
            };
            if *op == "=" {
                return Err(ExprError {
                    column: col,
                    message: "'=' is not an operator; use '=='".into(),
                });
            }
            i += op.len();
            out.push(Token {
                kind: Tok::Op(op),
                col,
            });
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Parser and type checker

struct Parser<'s> {
    tokens: Vec<Token>,
    pos: usize,
    scope: &'s dyn Scope,
    depth: usize,
    end: usize,
}

enum Typed {
    Var(Var, Type),
    Lit(Literal),
}

impl Typed {
    fn ty(&self) -> Type {
        match self {
            Typed::Var(_, t) => *t,
            Typed::Lit(Literal::Num(_)) => Type::Num,
            Typed::Lit(Literal::Str(_)) => Type::Str,
            Typed::Lit(Literal::Bool(_)) => Type::Bool,
        }
    }
    fn into_operand(self) -> Operand {
        match self {
            Typed::Var(v, _) => Operand::Var(v),
            Typed::Lit(l) => Operand::Lit(l),
        }
    }
}

impl<'s> Parser<'s> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }
    fn col(&self) -> usize {
        self.peek().map_or(self.end, |t| t.col)
    }
    fn eat_op(&mut self, op: &str) -> bool {
        if matches!(self.peek(), Some(Token { kind: Tok::Op(o), .. }) if *o == op) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn eat_word(&mut self, word: &str) -> bool {
        if matches!(self.peek(), Some(Token { kind: Tok::Name(n), .. }) if n == word) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn err<T>(&self, column: usize, message: impl Into<String>) -> Result<T, ExprError> {
        Err(ExprError {
            column,
            message: message.into(),
        })
    }

    fn or(&mut self) -> Result<Expr, ExprError> {
        let mut lhs = self.and()?;
        while self.eat_op("||") {
            let rhs = self.and()?;
            lhs = Expr::Or(Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn and(&mut self) -> Result<Expr, ExprError> {
        let mut lhs = self.unary()?;
        while self.eat_op("&&") {
            let rhs = self.unary()?;
            lhs = Expr::And(Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<Expr, ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.err(
                self.col(),
                format!("expression nested deeper than {MAX_DEPTH} levels"),
            );
        }
        let out = if self.eat_op("!") {
            self.unary().map(|e| Expr::Not(Box::new(e)))
        } else if self.eat_op("(") {
            let open = self.tokens[self.pos - 1].col;
            let e = self.or()?;
            if !self.eat_op(")") {
                return self.err(
                    self.col(),
                    format!("expected ')' to close '(' at column {open}"),
                );
            }
            Ok(e)
        } else {
            self.test()
        };
        self.depth -= 1;
        out
    }

    fn operand(&mut self) -> Result<(Typed, usize), ExprError> {
        let Some(tok) = self.peek().cloned() else {
            return self.err(self.end, "expected a name or a value, found the end");
        };
        self.pos += 1;
        let typed = match tok.kind {
            Tok::Num(n) => Typed::Lit(Literal::Num(n)),
            Tok::Str(s) => Typed::Lit(Literal::Str(s)),
            Tok::Name(n) if n == "true" => Typed::Lit(Literal::Bool(true)),
            Tok::Name(n) if n == "false" => Typed::Lit(Literal::Bool(false)),
            Tok::Name(n) => match self.scope.resolve(&n) {
                Ok((v, t)) => Typed::Var(v, t),
                Err(msg) => return self.err(tok.col, msg),
            },
            Tok::Op(o) => {
                return self.err(tok.col, format!("expected a name or a value, found '{o}'"))
            }
        };
        Ok((typed, tok.col))
    }

    fn list(&mut self) -> Result<Vec<(Literal, usize)>, ExprError> {
        if !self.eat_op("[") {
            return self.err(self.col(), "expected '[' to start a list");
        }
        let mut items = Vec::new();
        if self.eat_op("]") {
            return Ok(items);
        }
        loop {
            let (t, col) = self.operand()?;
            match t {
                Typed::Lit(l) => items.push((l, col)),
                Typed::Var(..) => return self.err(col, "list items must be literal values"),
            }
            if self.eat_op("]") {
                return Ok(items);
            }
            if !self.eat_op(",") {
                return self.err(self.col(), "expected ',' or ']' in list");
            }
        }
    }

    fn check_lit(&self, var: &Var, lit: &Literal, col: usize) -> Result<(), ExprError> {
        if let Literal::Str(s) = lit {
            self.scope
                .check_literal(var, s)
                .map_err(|message| ExprError {
                    column: col,
                    message,
                })?;
        }
        Ok(())
    }

    #[allow(
        clippy::too_many_lines,
        reason = "FIXME(issue 22): to be split with the expression module"
    )]
    fn test(&mut self) -> Result<Expr, ExprError> {
        let (lhs, lcol) = self.operand()?;
        let op_col = self.col();
        let cmp = match self.peek().map(|t| &t.kind) {
            Some(Tok::Op("==")) => Some(CmpOp::Eq),
            Some(Tok::Op("!=")) => Some(CmpOp::Ne),
            Some(Tok::Op("<")) => Some(CmpOp::Lt),
            Some(Tok::Op("<=")) => Some(CmpOp::Le),
            Some(Tok::Op(">")) => Some(CmpOp::Gt),
            Some(Tok::Op(">=")) => Some(CmpOp::Ge),
            _ => None,
        };
        if let Some(op) = cmp {
            self.pos += 1;
            let (rhs, rcol) = self.operand()?;
            let (lt, rt) = (lhs.ty(), rhs.ty());
            if lt == Type::List || rt == Type::List {
                return self.err(
                    op_col,
                    format!("cannot compare a list with '{}'; use has_any", op.symbol()),
                );
            }
            if lt != rt {
                return self.err(op_col, format!("cannot compare {lt} with {rt}"));
            }
            if lt != Type::Num && !matches!(op, CmpOp::Eq | CmpOp::Ne) {
                return self.err(
                    op_col,
                    format!("'{}' needs numbers, found {lt}", op.symbol()),
                );
            }
            if let (Typed::Lit(_), Typed::Lit(_)) = (&lhs, &rhs) {
                return self.err(lcol, "comparison of two literals");
            }
            // Normalize literal-on-the-left to variable-on-the-left.
            let (lhs, op, rhs, lit_col) = match (lhs, rhs) {
                (l @ Typed::Lit(_), r @ Typed::Var(..)) => (r, op.flip(), l, lcol),
                (l, r) => (l, op, r, rcol),
            };
            if let (Typed::Var(v, _), Typed::Lit(l)) = (&lhs, &rhs) {
                self.check_lit(v, l, lit_col)?;
            }
            return Ok(Expr::Cmp(lhs.into_operand(), op, rhs.into_operand()));
        }
        if self.eat_word("in") {
            let Typed::Var(var, ty) = lhs else {
                return self.err(lcol, "'in' needs a name on its left");
            };
            let items = self.list()?;
            for (lit, col) in &items {
                let lty = Typed::Lit(lit.clone()).ty();
                if lty != ty {
                    return self.err(
                        *col,
                        format!("list item is a {lty}, but the name is a {ty}"),
                    );
                }
                self.check_lit(&var, lit, *col)?;
            }
            if !matches!(ty, Type::Num | Type::Str) {
                return self.err(op_col, format!("'in' needs a number or string, found {ty}"));
            }
            return Ok(Expr::In(var, items.into_iter().map(|(l, _)| l).collect()));
        }
        if self.eat_word("has_any") || self.eat_word("has") {
            let single = matches!(&self.tokens[self.pos - 1].kind, Tok::Name(n) if n == "has");
            let Typed::Var(var, Type::List) = lhs else {
                return self.err(lcol, "'has'/'has_any' need a list on the left (e.g. terms)");
            };
            let items = if single {
                let (t, col) = self.operand()?;
                vec![match t {
                    Typed::Lit(l) => (l, col),
                    Typed::Var(..) => return self.err(col, "'has' needs a literal string"),
                }]
            } else {
                self.list()?
            };
            let mut words = Vec::with_capacity(items.len());
            for (lit, col) in items {
                match lit {
                    Literal::Str(s) => words.push(s),
                    _ => return self.err(col, "list items of has_any must be strings"),
                }
            }
            return Ok(Expr::HasAny(var, words));
        }
        if self.eat_op("~") {
            let Typed::Var(var, Type::Str) = lhs else {
                return self.err(lcol, "'~' needs a string name on the left");
            };
            let (pat, col) = self.operand()?;
            let Typed::Lit(Literal::Str(pattern)) = pat else {
                return self.err(col, "'~' needs a quoted glob pattern on the right");
            };
            return Ok(Expr::Glob(var, pattern));
        }
        match lhs {
            Typed::Var(v, Type::Bool) => Ok(Expr::Truthy(v)),
            Typed::Lit(Literal::Bool(b)) => Ok(Expr::Const(b)),
            Typed::Var(_, t) => match self.peek() {
                Some(tok) => self.err(
                    tok.col,
                    format!(
                        "expected an operator after a {t}, found {}",
                        tok.kind.describe()
                    ),
                ),
                None => self.err(
                    lcol,
                    format!("a {t} is not a condition; compare it with something"),
                ),
            },
            Typed::Lit(_) => self.err(lcol, "a value alone is not a condition"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Evaluation

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

fn lit_value(l: &Literal) -> Value<'_> {
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

#[cfg(test)]
mod tests {
    use super::*;

    struct TestScope;
    impl Scope for TestScope {
        fn resolve(&self, name: &str) -> Result<(Var, Type), String> {
            match name {
                "score.hiking" => Ok((Var::Score(0), Type::Num)),
                "score.running" => Ok((Var::Score(1), Type::Num)),
                "top_dimension" => Ok((Var::TopDimension, Type::Str)),
                "terms" => Ok((Var::Event(EventField::Terms), Type::List)),
                "gpc" => Ok((Var::Gpc, Type::Bool)),
                "device" => Ok((Var::Device, Type::Str)),
                _ if name.starts_with("query.") => Ok((Var::Query(name[6..].into()), Type::Str)),
                _ => Err(format!("unknown name '{name}'")),
            }
        }
        fn check_literal(&self, var: &Var, lit: &str) -> Result<(), String> {
            if *var == Var::TopDimension && !["hiking", "running"].contains(&lit) {
                return Err(format!("unknown dimension '{lit}'"));
            }
            Ok(())
        }
    }

    struct F {
        hiking: f64,
        terms: Vec<String>,
        campaign: Option<&'static str>,
    }
    impl Facts for F {
        fn value(&self, var: &Var) -> Value<'_> {
            match var {
                Var::Score(0) => Value::Num(self.hiking),
                Var::Score(_) => Value::Num(0.0),
                Var::TopDimension => Value::Str("hiking"),
                Var::Event(EventField::Terms) => Value::List(&self.terms),
                Var::Gpc => Value::Bool(false),
                Var::Query(_) => self.campaign.map_or(Value::Missing, Value::Str),
                _ => Value::Missing,
            }
        }
    }

    fn run(src: &str, f: &F) -> bool {
        compile(src, &TestScope)
            .unwrap_or_else(|e| panic!("{src}: {e}"))
            .eval(f)
    }

    fn err(src: &str) -> String {
        compile(src, &TestScope).unwrap_err().to_string()
    }

    #[test]
    fn evaluates() {
        let f = F {
            hiking: 42.0,
            terms: vec!["Boot".into(), "red".into()],
            campaign: Some("trail-spring"),
        };
        assert!(run("score.hiking >= 30 && top_dimension == 'hiking'", &f));
        assert!(!run(
            "score.hiking >= 30 && !(top_dimension == 'hiking')",
            &f
        ));
        assert!(run("30 <= score.hiking", &f));
        assert!(run("score.hiking > score.running", &f));
        assert!(run("terms has_any ['boot','trail']", &f));
        assert!(run("terms has 'RED'", &f));
        assert!(!run("terms has_any []", &f));
        assert!(run("query.utm_campaign ~ 'trail-*'", &f));
        assert!(run("top_dimension in ['running', 'hiking']", &f));
        assert!(run("!gpc || false", &f));
        let missing = F {
            hiking: 0.0,
            terms: vec![],
            campaign: None,
        };
        assert!(!run("query.utm_campaign == 'x'", &missing));
        assert!(
            !run("query.utm_campaign != 'x'", &missing),
            "a comparison with a missing value is false"
        );
    }

    #[test]
    fn errors_carry_columns() {
        assert_eq!(
            err("score.hikng >= 3"),
            "unknown name 'score.hikng' (column 1)"
        );
        assert_eq!(
            err("score.hiking >= 'a'"),
            "cannot compare number with string (column 14)"
        );
        assert_eq!(
            err("top_dimension == 'hikng'"),
            "unknown dimension 'hikng' (column 18)"
        );
        assert_eq!(
            err("score.hiking >= 3 &&"),
            "expected a name or a value, found the end (column 21)"
        );
        assert_eq!(
            err("(gpc"),
            "expected ')' to close '(' at column 1 (column 5)"
        );
        assert_eq!(
            err("score.hiking = 3"),
            "'=' is not an operator; use '==' (column 14)"
        );
        assert_eq!(
            err("device"),
            "a string is not a condition; compare it with something (column 1)"
        );
        assert_eq!(
            err("device < 'x'"),
            "'<' needs numbers, found string (column 8)"
        );
        assert_eq!(err("'abc"), "unterminated string (column 1)");
        assert_eq!(err(""), "empty expression (column 1)");
        assert_eq!(err("gpc gpc"), "unexpected name 'gpc' (column 5)");
        assert_eq!(
            err("top_dimension ~ 3"),
            "'~' needs a quoted glob pattern on the right (column 17)"
        );
        assert!(err(&"!".repeat(100)).contains("nested deeper"));
    }

    #[test]
    fn globs() {
        assert!(glob_match("trail-*", "trail-spring"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a?c*", "ABCdef"));
        assert!(!glob_match("trail-*", "trai"));
        assert!(glob_match("*-sale-*", "x-sale-y"));
        assert!(!glob_match("*-sale", "x-sale-y"));
    }

    #[test]
    fn explains_deciding_branch() {
        let f = F {
            hiking: 42.0,
            terms: vec![],
            campaign: None,
        };
        let e = compile(
            "score.hiking >= 30 && top_dimension == 'hiking' || gpc",
            &TestScope,
        )
        .unwrap();
        let names = |v: &Var, out: &mut Explanation<'_>| match v {
            Var::Score(0) => out.text.push_str("score.hiking"),
            Var::Event(f) => out.text.push_str(f.name()),
            other => out.text.push_str(&format!("{other:?}").to_lowercase()),
        };
        let mut out = Explanation::new(String::new(), &names);
        e.explain(&f, &mut out);
        assert_eq!(out.text, "score.hiking=42 ≥ 30, topdimension='hiking'");
        let e = compile(
            "!(gpc) && !(score.hiking in [1, 2]) && !(terms has_any ['x'])",
            &TestScope,
        )
        .unwrap();
        let mut out = Explanation::new(String::new(), &names);
        e.explain(&f, &mut out);
        assert_eq!(
            out.text,
            "not gpc, score.hiking=42 not in [1, 2], terms has none of [x]"
        );
    }

    #[test]
    fn renders_numbers() {
        assert_eq!(render_num(42.0), "42");
        assert_eq!(render_num(42.5), "42.5");
        assert_eq!(render_num(1.23456), "1.23");
        assert_eq!(render_num(33.99), "33.99");
        assert_eq!(render_num(0.05), "0.05");
        assert_eq!(render_num(-2.5), "-2.5");
        assert_eq!(render_num(182.5), "182.5");
        assert_eq!(render_num(1e20), "1e20");
        assert_eq!(render_num(-1.234e16), "-1.23e16");
        assert_eq!(render_num(9.999e17), "1e18");
        assert_eq!(render_num(f64::NAN), "NaN");
        assert_eq!(render_num(f64::NEG_INFINITY), "-inf");
    }
}
