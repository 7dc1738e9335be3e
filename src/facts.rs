//! The run-time environment expressions read: one request's context, state, traits, segments
//! and (for signals) the event being scored.

use crate::config::Site;
use crate::expr::{EventField, Facts, GeoField, TraitField, Value, Var};
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

/// Index of the highest non-zero score; ties go to the earlier dimension.
pub fn top_dimension(scores: &[u32]) -> Option<usize> {
    let mut best: Option<(usize, u32)> = None;
    for (i, &s) in scores.iter().enumerate() {
        if s > 0 && best.is_none_or(|(_, b)| s > b) {
            best = Some((i, s));
        }
    }
    best.map(|(i, _)| i)
}

fn opt_str(s: &Option<String>) -> Value<'_> {
    s.as_deref().map_or(Value::Missing, Value::Str)
}

impl Facts for Env<'_> {
    fn value(&self, var: &Var) -> Value<'_> {
        match var {
            Var::Score(i) => Value::Num(self.state.map_or(0.0, |s| s.points(*i))),
            Var::TopDimension => self.top.map_or(Value::Missing, |i| {
                Value::Str(&self.site.dimensions[i].name)
            }),
            Var::Visits => Value::Num(self.state.map_or(0.0, |s| f64::from(s.visits))),
            Var::SessionPageViews => {
                Value::Num(self.state.map_or(0.0, |s| f64::from(s.session_views)))
            }
            Var::SessionIsNew => Value::Bool(self.state.is_none_or(session_is_new)),
            Var::Trait(t) => match (self.traits, t) {
                (None, _) => Value::Missing,
                (Some(tr), TraitField::Purchases90d) => Value::Num(f64::from(tr.purchases_90d)),
                (Some(tr), TraitField::Aov) => Value::Num(tr.aov),
                (Some(tr), TraitField::Tier) => Value::Str(&tr.tier),
            },
            Var::Geo(g) => opt_str(match g {
                GeoField::Country => &self.ctx.geo.country,
                GeoField::Region => &self.ctx.geo.region,
                GeoField::City => &self.ctx.geo.city,
                GeoField::Continent => &self.ctx.geo.continent,
            }),
            Var::Device => Value::Str(self.ctx.device.name()),
            Var::Referrer => opt_str(&self.ctx.referrer),
            Var::Gpc => Value::Bool(self.ctx.gpc),
            Var::Signed => Value::Bool(self.signed),
            Var::Query(q) => self.ctx.query_value(q).map_or(Value::Missing, Value::Str),
            Var::PageType => Value::Str(&self.ctx.page_type),
            Var::PagePath => Value::Str(&self.ctx.path),
            Var::PageParam(p) => self.ctx.page_param(p).map_or(Value::Missing, Value::Str),
            Var::TimeHour => Value::Num(f64::from(self.ctx.hour)),
            Var::TimeWeekday => Value::Num(f64::from(self.ctx.weekday)),
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

    #[test]
    fn top() {
        assert_eq!(top_dimension(&[0, 0]), None);
        assert_eq!(top_dimension(&[5, 7, 7]), Some(1));
        assert_eq!(top_dimension(&[9, 7]), Some(0));
    }
}
