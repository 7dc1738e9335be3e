//! The report as one self-contained HTML page (`vitrine analyze --html report.html`): per
//! experiment and metric, the table, a forest plot of the relative uplift's intervals per
//! variation and breakdown value, and the cumulative uplift over time. Inline CSS and SVG only:
//! no script, no CDN.

use super::report::{notes, pct, Analysis, Cells, Design, Report};

/// `s` escaped for HTML text and attributes.
fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    crate::config::escape_html(s, &mut out);
    out
}

const W: f64 = 720.0;

/// The x position of `v` on a scale from `lo` to `hi` over `[left, right]`.
fn scale(v: f64, lo: f64, hi: f64, left: f64, right: f64) -> f64 {
    let v = v.clamp(lo, hi);
    left + (v - lo) / (hi - lo) * (right - left)
}

fn bounds<'a>(values: impl Iterator<Item = &'a f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (0.0_f64, 0.0_f64);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(*v);
        hi = hi.max(*v);
    }
    let pad = ((hi - lo) * 0.1).max(0.01);
    (lo - pad, hi + pad)
}

fn forest(a: &Analysis) -> String {
    let rows: Vec<_> = a
        .rows
        .iter()
        .filter(|r| r.verdict != "not enough data")
        .collect();
    if rows.is_empty() {
        return "<p class=\"note\">Not enough data for a plot.</p>".into();
    }
    let (lo, hi) = bounds(rows.iter().flat_map(|r| r.relative.ci.iter()));
    let (left, right, step) = (220.0, W - 20.0, 26.0);
    let height = 30.0 + step * rows.len() as f64;
    let zero = scale(0.0, lo, hi, left, right);
    let mut svg = format!(
        "<svg class=\"forest\" viewBox=\"0 0 {W} {height}\" width=\"{W}\" height=\"{height}\" role=\"img\" \
         aria-label=\"relative uplift intervals\"><line x1=\"{zero:.1}\" y1=\"4\" x2=\"{zero:.1}\" y2=\"{:.1}\" class=\"zero\"/>\
         <text x=\"{zero:.1}\" y=\"{:.1}\" class=\"axis\">0%</text><text x=\"{left}\" y=\"{:.1}\" class=\"axis\">{}</text>\
         <text x=\"{right}\" y=\"{:.1}\" class=\"axis end\">{}</text>",
        height - 16.0,
        height - 2.0,
        height - 2.0,
        pct(lo),
        height - 2.0,
        pct(hi)
    );
    for (i, r) in rows.iter().enumerate() {
        let y = 16.0 + step * i as f64;
        let (x0, x1) = (
            scale(r.relative.ci[0], lo, hi, left, right),
            scale(r.relative.ci[1], lo, hi, left, right),
        );
        let x = scale(r.relative.estimate, lo, hi, left, right);
        let class = match r.verdict.as_str() {
            "better" => "better",
            "worse" => "worse",
            _ => "flat",
        };
        svg.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" class=\"label\">{} · {}</text>\
             <line x1=\"{x0:.1}\" y1=\"{y:.1}\" x2=\"{x1:.1}\" y2=\"{y:.1}\" class=\"ci {class}\"/>\
             <circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"4\" class=\"{class}\"><title>{}: {} [{}, {}]</title></circle>",
            left - 8.0,
            y + 4.0,
            escape_html(&r.dimension.replace('\u{1f}', "+")),
            escape_html(&r.variation),
            escape_html(&r.variation),
            pct(r.relative.estimate),
            pct(r.relative.ci[0]),
            pct(r.relative.ci[1]),
        ));
    }
    svg.push_str("</svg>");
    svg
}

fn cumulative(a: &Analysis) -> String {
    if a.timeline.len() < 2 {
        return String::new();
    }
    let (lo, hi) = bounds(
        a.timeline
            .iter()
            .flat_map(|p| p.ci.iter().chain([&p.estimate])),
    );
    let mut days: Vec<&str> = a.timeline.iter().map(|p| p.day.as_str()).collect();
    days.sort_unstable();
    days.dedup();
    let (top, bottom, left, right) = (10.0, 170.0, 50.0, W - 20.0);
    let x = |day: &str| {
        let i = days.iter().position(|d| *d == day).unwrap_or(0) as f64;
        left + i / (days.len().max(2) - 1) as f64 * (right - left)
    };
    let y = |v: f64| bottom - (v.clamp(lo, hi) - lo) / (hi - lo) * (bottom - top);
    let mut svg = format!(
        "<svg class=\"timeline\" viewBox=\"0 0 {W} 200\" width=\"{W}\" height=\"200\" role=\"img\" aria-label=\"cumulative uplift\">\
         <line x1=\"{left}\" y1=\"{0:.1}\" x2=\"{right}\" y2=\"{0:.1}\" class=\"zero\"/>\
         <text x=\"4\" y=\"{1:.1}\" class=\"axis\">{hi_t}</text><text x=\"4\" y=\"{2:.1}\" class=\"axis\">{lo_t}</text>\
         <text x=\"{left}\" y=\"196\" class=\"axis\">{first}</text><text x=\"{right}\" y=\"196\" class=\"axis end\">{last}</text>",
        y(0.0),
        top + 8.0,
        bottom,
        hi_t = pct(hi),
        lo_t = pct(lo),
        first = days[0],
        last = days[days.len() - 1],
    );
    let mut variations: Vec<&str> = a.timeline.iter().map(|p| p.variation.as_str()).collect();
    variations.sort_unstable();
    variations.dedup();
    for (k, v) in variations.iter().enumerate() {
        let points: Vec<_> = a.timeline.iter().filter(|p| p.variation == *v).collect();
        let band: Vec<String> = points
            .iter()
            .map(|p| format!("{:.1},{:.1}", x(&p.day), y(p.ci[1])))
            .chain(
                points
                    .iter()
                    .rev()
                    .map(|p| format!("{:.1},{:.1}", x(&p.day), y(p.ci[0]))),
            )
            .collect();
        let line: Vec<String> = points
            .iter()
            .map(|p| format!("{:.1},{:.1}", x(&p.day), y(p.estimate)))
            .collect();
        svg.push_str(&format!(
            "<polygon points=\"{}\" class=\"band c{k}\"/><polyline points=\"{}\" class=\"line c{k}\"><title>{}</title></polyline>",
            band.join(" "),
            line.join(" "),
            escape_html(v)
        ));
    }
    svg.push_str("</svg>");
    svg
}

fn table(a: &Analysis) -> String {
    let mut t = String::from(
        "<table><tr><th>dimension</th><th>variation</th><th>users</th><th>baseline</th><th>mean</th>\
         <th>baseline mean</th><th>uplift</th><th>95% CI</th><th>p</th><th>chance to win</th><th>verdict</th></tr>",
    );
    for r in &a.rows {
        let c = Cells::of(r);
        t.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.4}</td><td>{:.4}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape_html(&r.dimension.replace('\u{1f}', "+")),
            escape_html(&r.variation),
            r.users,
            r.baseline_users,
            r.mean,
            r.baseline_mean,
            c.uplift,
            c.ci,
            c.p,
            c.win,
            escape_html(&r.verdict),
        ));
    }
    t.push_str("</table>");
    t
}

/// The page.
pub fn page(report: &Report) -> String {
    let mut body = String::new();
    for a in &report.experiments {
        body.push_str(&format!(
            "<section><h2>{} <small>{} ({}) vs {} · <span class=\"design\">{}</span></small></h2>{}",
            escape_html(&a.experiment),
            escape_html(&a.metric),
            a.metric_type,
            escape_html(&a.baseline),
            match a.design {
                Design::Randomized => "randomized",
                Design::Observational => "observational",
            },
            match a.srm_p {
                Some(p) if a.srm => format!("<p class=\"srm bad\">Sample ratio mismatch (p = {p:.2e}): the split is not the configured one; the results are suspect.</p>"),
                Some(p) => format!("<p class=\"srm\">Split as configured (SRM p = {p:.3}, {}).</p>", escape_html(&a.srm_note)),
                None => format!("<p class=\"srm\">Split check {}.</p>", escape_html(&a.srm_note)),
            }
        ));
        body.push_str(&table(a));
        for note in notes(a, report.settings.correction) {
            body.push_str(&format!("<p class=\"note\">{}</p>", escape_html(&note)));
        }
        body.push_str("<h3>Relative uplift, 95% intervals (unadjusted)</h3>");
        body.push_str(&forest(a));
        let timeline = cumulative(a);
        if !timeline.is_empty() {
            body.push_str("<h3>Cumulative uplift by first-exposure day</h3>");
            body.push_str(&timeline);
        }
        body.push_str("</section>");
    }
    let s = &report.settings;
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Vitrine analysis</title>\
         <style>body{{font:14px/1.4 system-ui,sans-serif;margin:2rem;color:#1d2330}}h2 small{{font-weight:normal;color:#667}}\
         table{{border-collapse:collapse;margin:.5rem 0}}td,th{{padding:2px 8px;border-bottom:1px solid #dde;text-align:right}}\
         td:nth-child(-n+2),th:nth-child(-n+2){{text-align:left}}.zero{{stroke:#889;stroke-dasharray:3 3}}\
         .axis{{font-size:11px;fill:#667}}.end{{text-anchor:end}}.label{{font-size:12px;text-anchor:end}}\
         .ci{{stroke-width:3}}.ci.better,circle.better{{stroke:#1a7f37;fill:#1a7f37}}.ci.worse,circle.worse{{stroke:#c62828;fill:#c62828}}\
         .ci.flat,circle.flat{{stroke:#4a5a7a;fill:#4a5a7a}}.band{{opacity:.18}}.line{{fill:none;stroke-width:2}}\
         .c0{{fill:#2f6fdb;stroke:#2f6fdb}}.c1{{fill:#d9822b;stroke:#d9822b}}.c2{{fill:#8e44ad;stroke:#8e44ad}}\
         .c3{{fill:#16a085;stroke:#16a085}}.srm.bad{{color:#c62828;font-weight:bold}}section{{margin-bottom:2rem}}</style></head>\
         <body><h1>Vitrine analysis</h1><p>{}. \
         {}, α = {}, {} correction{}. {}.</p>{body}</body></html>\n",
        match report.stats_rows {
            Some(rows) => format!("{rows} rows of sufficient statistics"),
            None => format!(
                "{} records, {} visitors, {} duplicate conversions dropped",
                report.records, report.visitors, report.duplicates
            ),
        },
        if s.sequential { "Sequential confidence sequences" } else { "Fixed-horizon Welch t-tests" },
        s.alpha,
        match s.correction {
            super::report::Correction::None => "no",
            super::report::Correction::Holm => "Holm",
            super::report::Correction::BenjaminiHochberg => "Benjamini–Hochberg",
        },
        if s.cuped { ", CUPED" } else { "" },
        escape_html(&report.counting()),
    )
}
