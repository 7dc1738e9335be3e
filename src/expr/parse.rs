//! The parser and type checker: tokens → a typed [`Expr`], names resolved against a [`Scope`].

use super::lex::{lex, Tok, Token};
use super::{CmpOp, Expr, ExprError, Literal, Operand, Scope, Type, Var, MAX_EXPR_LEN};

/// Deepest nesting of parentheses and negations.
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

    /// `operand (cmp operand | "in" list | "has_any" list | "has" literal | "~" string)?`
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
            return self.comparison(lhs, lcol, op, op_col);
        }
        if self.eat_word("in") {
            return self.membership(lhs, lcol, op_col);
        }
        if self.eat_word("has_any") || self.eat_word("has") {
            return self.has_words(lhs, lcol);
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

    /// `lhs op rhs`, types checked, a literal on the left moved to the right.
    fn comparison(
        &mut self,
        lhs: Typed,
        lcol: usize,
        op: CmpOp,
        op_col: usize,
    ) -> Result<Expr, ExprError> {
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
        Ok(Expr::Cmp(lhs.into_operand(), op, rhs.into_operand()))
    }

    /// `name in [literal, …]`.
    fn membership(&mut self, lhs: Typed, lcol: usize, op_col: usize) -> Result<Expr, ExprError> {
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
        Ok(Expr::In(var, items.into_iter().map(|(l, _)| l).collect()))
    }

    /// `list has_any [string, …]` or `list has string` (the word just eaten says which).
    fn has_words(&mut self, lhs: Typed, lcol: usize) -> Result<Expr, ExprError> {
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
        Ok(Expr::HasAny(var, words))
    }
}
