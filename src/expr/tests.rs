use super::*;

struct TestScope;
impl Scope for TestScope {
    fn resolve(&self, name: &str) -> Result<(Var, Type), String> {
        match name {
            "score.hiking" => Ok((Var::Score(0), Type::Num)),
            "score.running" => Ok((Var::Score(1), Type::Num)),
            "top_dimension" => Ok((Var::Builtin(Builtin::TopDimension), Type::Str)),
            "terms" => Ok((Var::Event(EventField::Terms), Type::List)),
            "gpc" => Ok((Var::Builtin(Builtin::Gpc), Type::Bool)),
            "device" => Ok((Var::Builtin(Builtin::Device), Type::Str)),
            _ if name.starts_with("query.") => Ok((Var::Query(name[6..].into()), Type::Str)),
            _ => Err(format!("unknown name '{name}'")),
        }
    }
    fn check_literal(&self, var: &Var, lit: &str) -> Result<(), String> {
        if *var == Var::Builtin(Builtin::TopDimension) && !["hiking", "running"].contains(&lit) {
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
            Var::Builtin(Builtin::TopDimension) => Value::Str("hiking"),
            Var::Event(EventField::Terms) => Value::List(&self.terms),
            Var::Builtin(Builtin::Gpc) => Value::Bool(false),
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
        Var::Builtin(b) => out.text.push_str(b.name()),
        other => out.text.push_str(&format!("{other:?}")),
    };
    let mut out = Explanation::new(String::new(), &names);
    e.explain(&f, &mut out);
    assert_eq!(out.text, "score.hiking=42 ≥ 30, top_dimension='hiking'");
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
