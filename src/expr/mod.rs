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

mod eval;
mod explain;
mod lex;
pub mod names;
mod parse;
#[cfg(test)]
mod tests;

use std::fmt;

use serde::Serialize;

pub use eval::glob_match;
pub use explain::{render_num, write_num, Explanation};
pub use names::Builtin;
pub use parse::compile;

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
    /// A name every site has ([`names::BUILTINS`]).
    Builtin(Builtin),
    Score(usize),
    Query(String),
    PageParam(String),
    Segment(usize),
    Event(EventField),
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
