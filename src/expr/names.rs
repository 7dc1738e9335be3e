//! The built-in names: what every site's expressions may read without declaring it. One table,
//! read by name resolution, the explanations (a variable's name), lint (value ranges, did-you-mean
//! suggestions) and the compiled form (a built-in is stored as its place in the table). Adding a
//! name touches this file and the evaluator (`facts.rs`) only.
//!
//! The names a site declares (dimensions, segments, page parameters) and the ones that carry a
//! parameter (`score.X`, `query.X`, `page.X`, `segment.X`, event fields) are resolved by the
//! site's scope.

use serde::Serialize;

use super::Type;

/// A built-in name, as resolved. Its declaration order is its place in [`BUILTINS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(test, derive(serde::Deserialize))]
pub enum Builtin {
    TopDimension,
    Visits,
    SessionPageViews,
    SessionIsNew,
    TraitPurchases90d,
    TraitAov,
    TraitTier,
    GeoCountry,
    GeoRegion,
    GeoCity,
    GeoContinent,
    Device,
    Referrer,
    Gpc,
    Signed,
    PageType,
    PagePath,
    TimeHour,
    TimeWeekday,
}

/// A row of the table.
pub struct BuiltinName {
    pub builtin: Builtin,
    /// As written in expressions.
    pub name: &'static str,
    pub ty: Type,
    /// The values a number can take (lint's always-true/never-true checks), where bounded.
    pub range: Option<(f64, f64)>,
}

const fn row(builtin: Builtin, name: &'static str, ty: Type) -> BuiltinName {
    BuiltinName {
        builtin,
        name,
        ty,
        range: None,
    }
}

const fn ranged(builtin: Builtin, name: &'static str, low: f64, high: f64) -> BuiltinName {
    BuiltinName {
        builtin,
        name,
        ty: Type::Num,
        range: Some((low, high)),
    }
}

/// Every built-in name, in [`Builtin`]'s order.
pub const BUILTINS: [BuiltinName; 19] = {
    use Builtin::*;
    [
        row(TopDimension, "top_dimension", Type::Str),
        ranged(Visits, "visits", 0.0, f64::INFINITY),
        ranged(SessionPageViews, "session.page_views", 0.0, f64::INFINITY),
        row(SessionIsNew, "session.is_new", Type::Bool),
        row(TraitPurchases90d, "traits.purchases_90d", Type::Num),
        row(TraitAov, "traits.aov", Type::Num),
        row(TraitTier, "traits.tier", Type::Str),
        row(GeoCountry, "geo.country", Type::Str),
        row(GeoRegion, "geo.region", Type::Str),
        row(GeoCity, "geo.city", Type::Str),
        row(GeoContinent, "geo.continent", Type::Str),
        row(Device, "device", Type::Str),
        row(Referrer, "referrer", Type::Str),
        row(Gpc, "gpc", Type::Bool),
        row(Signed, "signed", Type::Bool),
        row(PageType, "page.type", Type::Str),
        row(PagePath, "page.path", Type::Str),
        ranged(TimeHour, "time.hour", 0.0, 23.0),
        ranged(TimeWeekday, "time.weekday", 0.0, 6.0),
    ]
};

/// Namespaces made only of built-in names, and what an unknown name in each is called.
pub const NAMESPACES: [(&str, &str); 4] = [
    ("traits", "trait"),
    ("geo", "geo field"),
    ("session", "session field"),
    ("time", "time field"),
];

impl Builtin {
    fn row(self) -> &'static BuiltinName {
        &BUILTINS[self as usize]
    }

    pub fn name(self) -> &'static str {
        self.row().name
    }

    pub fn ty(self) -> Type {
        self.row().ty
    }

    pub fn range(self) -> Option<(f64, f64)> {
        self.row().range
    }

    /// The built-in written `name`.
    pub fn named(name: &str) -> Option<Builtin> {
        BUILTINS.iter().find(|b| b.name == name).map(|b| b.builtin)
    }

    /// The built-in at `index` in [`BUILTINS`] (the compiled form).
    pub fn at(index: usize) -> Option<Builtin> {
        BUILTINS.get(index).map(|b| b.builtin)
    }
}

/// Why `name` is unknown when its namespace holds only built-ins (`traits.tire`: "unknown trait
/// 'tire' (known: purchases_90d, aov, tier)"); `None` for other namespaces.
pub fn unknown_in_namespace(name: &str) -> Option<String> {
    let (ns, rest) = name.split_once('.')?;
    let (_, noun) = NAMESPACES.iter().find(|(n, _)| *n == ns)?;
    let known: Vec<&str> = BUILTINS
        .iter()
        .filter_map(|b| b.name.strip_prefix(ns)?.strip_prefix('.'))
        .collect();
    Some(format!(
        "unknown {noun} '{rest}' (known: {})",
        known.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_in_the_enums_order_so_a_builtin_is_its_place() {
        for (i, b) in BUILTINS.iter().enumerate() {
            assert_eq!(b.builtin as usize, i, "{}", b.name);
            assert_eq!(Builtin::at(i), Some(b.builtin));
            assert_eq!(Builtin::named(b.name), Some(b.builtin));
        }
        assert_eq!(Builtin::at(BUILTINS.len()), None);
        // The compiled form stores a built-in as postcard writes the enum: its variant index.
        for b in &BUILTINS {
            let bytes = postcard::to_allocvec(&b.builtin).unwrap();
            assert_eq!(bytes, [b.builtin as u8], "{}", b.name);
        }
    }

    #[test]
    fn names_are_unique_and_namespaces_hold_only_builtins() {
        let mut names: Vec<&str> = BUILTINS.iter().map(|b| b.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), BUILTINS.len());
        assert_eq!(
            unknown_in_namespace("traits.tire").as_deref(),
            Some("unknown trait 'tire' (known: purchases_90d, aov, tier)")
        );
        assert_eq!(unknown_in_namespace("score.x"), None);
    }
}
