//! Name resolution: where an expression appears decides which names it may use; the built-in
//! ones come from `expr::names`, the rest from the site (dimensions, segments, page parameters,
//! event fields in signals), with did-you-mean suggestions.

use super::*;

pub(super) struct SiteScope<'a> {
    pub(super) dims: &'a [String],
    pub(super) segments: &'a [String],
    pub(super) page_params: &'a BTreeSet<String>,
    pub(super) page_types: &'a BTreeSet<String>,
    pub(super) event: Option<EventKind>,
}

pub(in crate::config) fn did_you_mean<'a>(
    name: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> String {
    let best = candidates
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, _)| *d <= 2)
        .min();
    best.map(|(_, c)| format!(" (did you mean '{c}'?)"))
        .unwrap_or_default()
}

pub(in crate::config) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push(
                (prev[j] + usize::from(ca != *cb))
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1),
            );
        }
        prev = cur;
    }
    prev[b.len()]
}

impl Scope for SiteScope<'_> {
    fn resolve(&self, name: &str) -> Result<(Var, Type), String> {
        if let Some(b) = Builtin::named(name) {
            return Ok((Var::Builtin(b), b.ty()));
        }
        if let Some(unknown) = names::unknown_in_namespace(name) {
            return Err(unknown);
        }
        if let Some((ns, rest)) = name.split_once('.') {
            return match ns {
                "score" => match self.dims.iter().position(|d| d == rest) {
                    Some(i) => Ok((Var::Score(i), Type::Num)),
                    None => Err(format!(
                        "unknown dimension '{rest}'{}",
                        did_you_mean(rest, self.dims.iter().map(String::as_str))
                    )),
                },
                "query" if !rest.contains('.') => Ok((Var::Query(rest.to_string()), Type::Str)),
                "page" => {
                    if self.page_params.contains(rest) {
                        Ok((Var::PageParam(rest.to_string()), Type::Str))
                    } else {
                        let known: Vec<&str> =
                            self.page_params.iter().map(String::as_str).collect();
                        Err(format!(
                            "unknown page parameter '{rest}' (page_types capture: {})",
                            if known.is_empty() {
                                "none".to_string()
                            } else {
                                known.join(", ")
                            }
                        ))
                    }
                }
                "segment" => self.segment(rest),
                _ => Err(format!("unknown name '{name}'")),
            };
        }
        let field = EventKind::ALL
            .iter()
            .flat_map(|k| event_fields(*k))
            .find(|f| f.name() == name)
            .copied();
        if let Some(field) = field {
            let ty = match field {
                EventField::Price => Type::Num,
                EventField::Terms => Type::List,
                _ => Type::Str,
            };
            return match self.event {
                Some(kind) if event_fields(kind).contains(&field) => Ok((Var::Event(field), ty)),
                Some(kind) => Err(format!("'{name}' is not a field of {} events", kind.name())),
                None if !self.segments.iter().any(|s| s == name) => Err(format!(
                    "'{name}' is an event field, usable only in signals"
                )),
                None => self.segment(name),
            };
        }
        self.segment(name)
    }

    fn check_literal(&self, var: &Var, lit: &str) -> Result<(), String> {
        let (what, allowed): (&str, Vec<&str>) = match var {
            Var::Builtin(Builtin::TopDimension) => {
                ("dimension", self.dims.iter().map(String::as_str).collect())
            }
            Var::Builtin(Builtin::PageType) => (
                "page type",
                self.page_types
                    .iter()
                    .map(String::as_str)
                    .chain([OTHER_PAGE])
                    .collect(),
            ),
            Var::Builtin(Builtin::Device) => ("device", DEVICES.to_vec()),
            _ => return Ok(()),
        };
        if allowed.contains(&lit) {
            Ok(())
        } else {
            Err(format!(
                "unknown {what} '{lit}'{}",
                did_you_mean(lit, allowed.iter().copied())
            ))
        }
    }
}

impl SiteScope<'_> {
    fn segment(&self, name: &str) -> Result<(Var, Type), String> {
        if let Some(kind) = self.event {
            return Err(format!(
                "unknown name '{name}' ({} signals read event fields, page, query and scores; segments are evaluated after scoring)",
                kind.name()
            ));
        }
        match self.segments.iter().position(|s| s == name) {
            Some(i) => Ok((Var::Segment(i), Type::Bool)),
            None => Err(format!(
                "unknown segment '{name}'{}",
                did_you_mean(
                    name,
                    self.segments
                        .iter()
                        .map(String::as_str)
                        .chain(BUILTINS.iter().map(|b| b.name))
                )
            )),
        }
    }
}
