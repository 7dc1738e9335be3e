//! The run-time environment expressions read: one request's context, state, traits, segments
//! and (for signals) the event being scored.

use crate::config::Site;
use crate::expr::{Builtin, EventField, Facts, Value, Var};
use crate::signals::{Event, RequestContext, Traits};
use crate::state::{session_is_new, VisitorState};

pub struct Env<'a> {
    pub site: &'a Site,
    pub ctx: &'a RequestContext,
    /// `None` when no behavioral state may be read (GPC).
    pub state: Option<&'a VisitorState>,
    pub traits: Option<&'a Traits>,
    /// Evaluated segments (empty while scoring).
    pub segments: &'a [bool],
    pub signed: bool,
    pub event: Option<&'a Event>,
    /// Index of the highest non-zero score, ties to the first dimension.
    pub top: Option<usize>,
}

/// Index of the highest non-zero score among the dimensions that can be top (`top: true`);
/// ties go to the earlier dimension.
pub fn top_dimension(site: &Site, scores: &[u32]) -> Option<usize> {
    let mut best: Option<(usize, u32)> = None;
    let eligible = scores.iter().zip(&site.dimensions).enumerate();
    for (i, (&s, _)) in eligible.filter(|(_, (_, d))| d.top) {
        if s > 0 && best.is_none_or(|(_, b)| s > b) {
            best = Some((i, s));
        }
    }
    best.map(|(i, _)| i)
}

fn opt_str(s: &Option<String>) -> Value<'_> {
    s.as_deref().map_or(Value::Missing, Value::Str)
}

impl Env<'_> {
    /// The value of a built-in name ([`crate::expr::names::BUILTINS`]).
    fn builtin(&self, b: Builtin) -> Value<'_> {
        let num = |n: u32| Value::Num(f64::from(n));
        match b {
            Builtin::TopDimension => self.top.map_or(Value::Missing, |i| {
                Value::Str(&self.site.dimensions[i].name)
            }),
            Builtin::Visits => Value::Num(self.state.map_or(0.0, |s| f64::from(s.visits))),
            Builtin::SessionPageViews => {
                Value::Num(self.state.map_or(0.0, |s| f64::from(s.session_views)))
            }
            Builtin::SessionIsNew => Value::Bool(self.state.is_none_or(session_is_new)),
            Builtin::TraitPurchases90d => {
                self.traits.map_or(Value::Missing, |t| num(t.purchases_90d))
            }
            Builtin::TraitAov => self.traits.map_or(Value::Missing, |t| Value::Num(t.aov)),
            Builtin::TraitTier => self.traits.map_or(Value::Missing, |t| Value::Str(&t.tier)),
            Builtin::GeoCountry => opt_str(&self.ctx.geo.country),
            Builtin::GeoRegion => opt_str(&self.ctx.geo.region),
            Builtin::GeoCity => opt_str(&self.ctx.geo.city),
            Builtin::GeoContinent => opt_str(&self.ctx.geo.continent),
            Builtin::Device => Value::Str(self.ctx.device.name()),
            Builtin::Referrer => opt_str(&self.ctx.referrer),
            Builtin::Gpc => Value::Bool(self.ctx.gpc),
            Builtin::Signed => Value::Bool(self.signed),
            Builtin::PageType => Value::Str(&self.ctx.page_type),
            Builtin::PagePath => Value::Str(&self.ctx.path),
            Builtin::TimeHour => num(self.ctx.hour.into()),
            Builtin::TimeWeekday => num(self.ctx.weekday.into()),
        }
    }
}

impl Facts for Env<'_> {
    fn value(&self, var: &Var) -> Value<'_> {
        match var {
            Var::Score(i) => Value::Num(self.state.map_or(0.0, |s| s.points(*i))),
            Var::Builtin(b) => self.builtin(*b),
            Var::Query(q) => self.ctx.query_value(q).map_or(Value::Missing, Value::Str),
            Var::PageParam(p) => self.ctx.page_param(p).map_or(Value::Missing, Value::Str),
            Var::Segment(i) => Value::Bool(self.segments.get(*i).copied().unwrap_or(false)),
            Var::Event(f) => match (self.event, f) {
                (None, _) => Value::Missing,
                (Some(e), EventField::Sku) => opt_str(&e.sku),
                (Some(e), EventField::Category) => opt_str(&e.category),
                (Some(e), EventField::Price) => e.price.map_or(Value::Missing, Value::Num),
                (Some(e), EventField::Terms) => Value::List(&e.terms),
                (Some(e), EventField::Filter) => opt_str(&e.filter),
                (Some(e), EventField::Value) => opt_str(&e.value),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::top_dimension;
    use crate::config::Config;

    #[test]
    fn top() {
        let site = |tops: [bool; 3]| {
            let dims: serde_json::Map<String, serde_json::Value> = ["a", "b", "c"]
                .iter()
                .zip(tops)
                .map(|(n, top)| {
                    (
                        n.to_string(),
                        serde_json::json!({"half_life_hours": 1, "top": top}),
                    )
                })
                .collect();
            let doc = serde_json::json!({"version": 1, "site": "t", "dimensions": dims});
            Config::from_json(&doc.to_string()).unwrap().sites.remove(0)
        };
        let all = site([true; 3]);
        assert_eq!(top_dimension(&all, &[0, 0, 0]), None);
        assert_eq!(top_dimension(&all, &[5, 7, 7]), Some(1));
        assert_eq!(top_dimension(&all, &[9, 7, 0]), Some(0));
        // A dimension that is not an interest never outranks one.
        let need = site([true, false, true]);
        assert_eq!(top_dimension(&need, &[5, 70, 7]), Some(2));
        assert_eq!(top_dimension(&need, &[0, 70, 0]), None);
    }
}
