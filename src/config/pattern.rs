//! URL path patterns of `page_types`: `/c/{category}`, `/p/{category}-{slug}`.
//!
//! A pattern is a list of `/`-separated segments; each segment is a run of literal text and
//! `{name}` captures. A capture takes the shortest text up to the literal that follows it (or
//! the rest of the segment when nothing follows), and never an empty string.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(serde::Deserialize))]
pub(super) enum Part {
    Lit(String),
    Param(String),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(serde::Deserialize))]
pub struct PathPattern {
    pub(super) segments: Vec<Vec<Part>>,
}

impl PathPattern {
    /// A path this pattern matches, each capture filled by `fill(name)` (for synthetic
    /// traffic: `vitrine simulate`).
    pub fn example(&self, fill: &mut dyn FnMut(&str) -> String) -> String {
        let mut out = String::new();
        for seg in &self.segments {
            out.push('/');
            for part in seg {
                match part {
                    Part::Lit(l) => out.push_str(l),
                    Part::Param(p) => out.push_str(&fill(p)),
                }
            }
        }
        out
    }

    pub fn parse(src: &str) -> Result<PathPattern, String> {
        let Some(rest) = src.strip_prefix('/') else {
            return Err(format!("path pattern '{src}' must start with '/'"));
        };
        // Normalised as request paths are: a trailing `/` is optional on both
        // (`/product/{slug}/` matches `/product/abc/` and `/product/abc`).
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let mut segments = Vec::new();
        let mut seen = Vec::<String>::new();
        for seg in rest.split('/') {
            let mut parts = Vec::new();
            let mut s = seg;
            while !s.is_empty() {
                if let Some(after) = s.strip_prefix('{') {
                    let Some(end) = after.find('}') else {
                        return Err(format!("unclosed '{{' in path pattern '{src}'"));
                    };
                    let name = &after[..end];
                    if name.is_empty()
                        || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    {
                        return Err(format!(
                            "bad parameter name '{{{name}}}' in path pattern '{src}'"
                        ));
                    }
                    if matches!(parts.last(), Some(Part::Param(_))) {
                        return Err(format!("two adjacent parameters in path pattern '{src}' need a literal between them"));
                    }
                    if seen.iter().any(|n| n == name) {
                        return Err(format!(
                            "parameter '{name}' appears twice in path pattern '{src}'"
                        ));
                    }
                    if name == "type" || name == "path" {
                        return Err(format!("parameter name '{name}' is reserved (page.{name})"));
                    }
                    seen.push(name.to_string());
                    parts.push(Part::Param(name.to_string()));
                    s = &after[end + 1..];
                } else {
                    let end = s.find('{').unwrap_or(s.len());
                    if s[..end].contains('}') {
                        return Err(format!("stray '}}' in path pattern '{src}'"));
                    }
                    parts.push(Part::Lit(s[..end].to_string()));
                    s = &s[end..];
                }
            }
            segments.push(parts);
        }
        Ok(PathPattern { segments })
    }

    /// Parameter names, in order.
    pub fn params(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().flatten().filter_map(|p| match p {
            Part::Param(n) => Some(n.as_str()),
            Part::Lit(_) => None,
        })
    }

    /// Matches a (percent-decoded) path; captures are pushed to `out` on success.
    pub fn matches(&self, path: &str, out: &mut Vec<(String, String)>) -> bool {
        let path = path.strip_prefix('/').unwrap_or(path);
        // NOTE: a trailing slash is tolerated (`/c/hiking/` is `/c/hiking`).
        let path = if path.len() > 1 {
            path.strip_suffix('/').unwrap_or(path)
        } else {
            path
        };
        let mut segs = path.split('/');
        let start = out.len();
        for parts in &self.segments {
            let Some(seg) = segs.next() else {
                out.truncate(start);
                return false;
            };
            if !match_segment(parts, seg, out) {
                out.truncate(start);
                return false;
            }
        }
        if segs.next().is_some() {
            out.truncate(start);
            return false;
        }
        true
    }
}

fn match_segment(parts: &[Part], mut seg: &str, out: &mut Vec<(String, String)>) -> bool {
    let mut i = 0;
    while i < parts.len() {
        match &parts[i] {
            Part::Lit(l) => match seg.strip_prefix(l.as_str()) {
                Some(rest) => seg = rest,
                None => return false,
            },
            Part::Param(name) => {
                let end = match parts.get(i + 1) {
                    Some(Part::Lit(next)) => {
                        match seg.get(1..).and_then(|s| crate::text::find_sub(s, next)) {
                            Some(pos) => pos + 1,
                            None => return false,
                        }
                    }
                    _ => seg.len(),
                };
                if end == 0 {
                    return false;
                }
                let (Some(value), Some(rest)) = (seg.get(..end), seg.get(end..)) else {
                    return false;
                };
                out.push((name.clone(), value.to_string()));
                seg = rest;
            }
        }
        i += 1;
    }
    seg.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, path: &str) -> Option<Vec<(String, String)>> {
        let mut out = vec![];
        PathPattern::parse(p)
            .unwrap()
            .matches(path, &mut out)
            .then_some(out)
    }

    #[test]
    fn matches_segments() {
        assert_eq!(m("/", "/"), Some(vec![]));
        assert_eq!(m("/", "/x"), None);
        assert_eq!(
            m("/c/{category}", "/c/hiking"),
            Some(vec![("category".into(), "hiking".into())])
        );
        assert_eq!(
            m("/c/{category}", "/c/hiking/"),
            Some(vec![("category".into(), "hiking".into())])
        );
        assert_eq!(m("/c/{category}", "/c/"), None);
        // A pattern written with a trailing slash (WooCommerce, Magento) reads the same.
        for path in ["/product/abc/", "/product/abc"] {
            assert_eq!(
                m("/product/{slug}/", path),
                Some(vec![("slug".into(), "abc".into())]),
                "{path}"
            );
        }
        assert_eq!(m("/shop/", "/shop/"), Some(vec![]));
        assert_eq!(m("/shop/", "/shop/x"), None);
        assert_eq!(m("/c/{category}", "/c/a/b"), None);
        assert_eq!(
            m("/p/{category}-{slug}", "/p/hiking-ridge-boot"),
            Some(vec![
                ("category".into(), "hiking".into()),
                ("slug".into(), "ridge-boot".into())
            ])
        );
        assert_eq!(m("/p/{category}-{slug}", "/p/hiking"), None);
        assert_eq!(
            m("/p/{sku}.html", "/p/abc.html"),
            Some(vec![("sku".into(), "abc".into())])
        );
    }

    #[test]
    fn rejects_bad_patterns() {
        assert!(PathPattern::parse("c/{x}")
            .unwrap_err()
            .contains("must start with '/'"));
        assert!(PathPattern::parse("/c/{x")
            .unwrap_err()
            .contains("unclosed"));
        assert!(PathPattern::parse("/c/{x}{y}")
            .unwrap_err()
            .contains("adjacent"));
        assert!(PathPattern::parse("/c/{x}/{x}")
            .unwrap_err()
            .contains("twice"));
        assert!(PathPattern::parse("/c/{type}")
            .unwrap_err()
            .contains("reserved"));
        assert!(PathPattern::parse("/c/{a b}")
            .unwrap_err()
            .contains("bad parameter"));
    }
}
