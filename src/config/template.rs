//! Variant HTML with placeholders: `Results for {{query.q}}`.
//!
//! A placeholder names a string or number the expression language knows (`query.*`, `page.*`,
//! `top_dimension`, `geo.*`, `traits.tier`, `score.*`…); it is resolved at load and its value is
//! HTML-escaped when rendered, because it may come from the visitor.

use std::borrow::Cow;

use serde::Serialize;

use crate::expr::{write_num, Facts, Scope, Type, Value, Var};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(serde::Deserialize))]
pub(super) enum Part {
    Lit(String),
    Var(Var),
}

/// Trusted HTML from the config, with escaped placeholders.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(serde::Deserialize))]
pub struct Template {
    pub(super) source: String,
    pub(super) parts: Vec<Part>,
}

impl Template {
    pub fn parse(src: &str, scope: &dyn Scope) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = src;
        while let Some(start) = rest.find("{{") {
            let Some(len) = rest[start + 2..].find("}}") else {
                return Err(format!(
                    "unclosed '{{{{' at byte {}",
                    src.len() - rest.len() + start
                ));
            };
            if start > 0 {
                parts.push(Part::Lit(rest[..start].to_string()));
            }
            let name = rest[start + 2..start + 2 + len].trim();
            let (var, ty) = scope
                .resolve(name)
                .map_err(|e| format!("placeholder {{{{{name}}}}}: {e}"))?;
            if !matches!(ty, Type::Str | Type::Num) {
                return Err(format!(
                    "placeholder {{{{{name}}}}} is a {ty}; only strings and numbers can be shown"
                ));
            }
            parts.push(Part::Var(var));
            rest = &rest[start + 2 + len + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Lit(rest.to_string()));
        }
        Ok(Template {
            source: src.to_string(),
            parts,
        })
    }

    /// Every variable the template's placeholders read.
    pub fn vars(&self, out: &mut Vec<Var>) {
        out.extend(self.parts.iter().filter_map(|p| {
            if let Part::Var(v) = p {
                Some(v.clone())
            } else {
                None
            }
        }));
    }

    /// The template as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Renders the template; borrowed when it has no placeholder. Missing values render empty.
    pub fn render(&self, facts: &dyn Facts) -> Cow<'_, str> {
        if !self.parts.iter().any(|p| matches!(p, Part::Var(_))) {
            return Cow::Borrowed(&self.source);
        }
        let mut out = String::with_capacity(self.source.len() + 32);
        for p in &self.parts {
            match p {
                Part::Lit(s) => out.push_str(s),
                Part::Var(v) => match facts.value(v) {
                    Value::Str(s) => escape_html(s, &mut out),
                    Value::Num(n) => write_num(&mut out, n),
                    _ => {}
                },
            }
        }
        Cow::Owned(out)
    }
}

/// Escapes text for HTML content and quoted attribute values.
pub fn escape_html(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::Builtin;

    struct S;
    impl Scope for S {
        fn resolve(&self, name: &str) -> Result<(Var, Type), String> {
            match name {
                "query.q" => Ok((Var::Query("q".into()), Type::Str)),
                "gpc" => Ok((Var::Builtin(Builtin::Gpc), Type::Bool)),
                _ => Err(format!("unknown name '{name}'")),
            }
        }
    }
    struct F(Option<&'static str>);
    impl Facts for F {
        fn value(&self, _: &Var) -> Value<'_> {
            self.0.map_or(Value::Missing, Value::Str)
        }
    }

    #[test]
    fn renders_escaped() {
        let t = Template::parse("<h1>Results for “{{ query.q }}”</h1>", &S).unwrap();
        assert_eq!(
            t.render(&F(Some("<script>alert('x')</script>&"))),
            "<h1>Results for “&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;”</h1>"
        );
        assert_eq!(t.render(&F(None)), "<h1>Results for “”</h1>");
        let plain = Template::parse("<b>x</b>", &S).unwrap();
        assert!(matches!(plain.render(&F(None)), Cow::Borrowed("<b>x</b>")));
        assert_eq!(
            Template::parse("{{ nope }}", &S).unwrap_err(),
            "placeholder {{nope}}: unknown name 'nope'"
        );
        assert_eq!(
            Template::parse("{{gpc}}", &S).unwrap_err(),
            "placeholder {{gpc}} is a boolean; only strings and numbers can be shown"
        );
        assert_eq!(
            Template::parse("a {{query.q", &S).unwrap_err(),
            "unclosed '{{' at byte 2"
        );
    }
}
