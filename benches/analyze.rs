//! `vitrine analyze` and `simulate` on this machine (`make bench-analyze`): event records read
//! per second (bar ≥ 1,000,000 on 2 cores), bytes held per visitor (bar ≤ 200), and synthetic
//! requests replayed per second (bar ≥ 300,000 on 2 cores), on the demo configuration.
//!
//! The records are the simulator's own: synthetic journeys through the real pipeline.

use std::time::Instant;

use vitrine::analyze::aggregate::{parse_block, Aggregator, Options};
use vitrine::config::{Config, DEMO_CONFIG};
use vitrine::simulate::{self, Outcomes, Synthetic, Traffic};
use vitrine::Keys;

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    let site = Config::from_json(DEMO_CONFIG).unwrap().sites.remove(0);
    let keys = Keys::development();
    let spec = |visitors| Synthetic {
        visitors,
        seed: 7,
        start_ms: 1_793_491_200_000,
        days: 7,
        words: simulate::words_of(DEMO_CONFIG),
    };
    let outcomes = Outcomes {
        purchase_rate: 0.05,
        plants: vec![],
    };
    // Records: 20,000 visitors' journeys.
    let events = simulate::simulate(
        &site,
        None,
        &keys,
        &Traffic::Synthetic(&spec(20_000)),
        Some(&outcomes),
        &|_| {},
    )
    .events;
    let lines = events.lines().count() as f64;
    println!(
        "records: {lines} lines, {:.1} MB",
        events.len() as f64 / 1e6
    );
    let (mut parse, mut full) = (Vec::new(), Vec::new());
    let mut bytes = 0.0;
    for _ in 0..7 {
        let t = Instant::now();
        let block = parse_block(&events);
        std::hint::black_box(&block);
        drop(block);
        parse.push(lines / t.elapsed().as_secs_f64());
        let t = Instant::now();
        let mut agg = Aggregator::new(Options::default());
        let errors = agg.push_block(&events);
        assert!(errors.is_empty());
        bytes = agg.bytes_per_visitor();
        std::hint::black_box(agg.finish());
        full.push(lines / t.elapsed().as_secs_f64());
    }
    println!(
        "analyze: {:.0} records/s (parse only {:.0}/s) on {} threads, median of 7; {bytes:.0} bytes per visitor",
        median(full),
        median(parse),
        rayon::current_num_threads()
    );
    let mut rates = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let r = simulate::simulate(
            &site,
            None,
            &keys,
            &Traffic::Synthetic(&spec(20_000)),
            None,
            &|_| {},
        );
        rates.push(r.tally.views as f64 / t.elapsed().as_secs_f64());
    }
    println!(
        "simulate: {:.0} requests/s on {} threads, median of 5",
        median(rates),
        rayon::current_num_threads()
    );
}
