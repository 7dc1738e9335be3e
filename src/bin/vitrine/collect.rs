//! `vitrine collect`: a local HTTP collector for event records (NDJSON in, hourly files out).
//!
//! `POST` any path with NDJSON records (one per line, `text/plain` or `application/x-ndjson`,
//! as `sendBeacon` and the edge send them). A body is checked whole — size, then every line
//! against the event schema — and either written whole or refused with a 4xx naming the line and
//! what is wrong; so a client may retry a refused or unanswered body without duplicates. A body
//! is answered `204` only once its lines are written to `DIR/dt=YYYY-MM-DD/hour=HH/<run>.ndjson`
//! (by each record's own `ts`, UTC), one `write` per file under a lock: concurrent writers never
//! interleave within a line. Conversions with an order id, or a click-stream event id, already
//! seen by this run are dropped (counted in the log), so a reloaded confirmation page, or an
//! add-to-cart both beaconed by the browser and folded by the edge, counts once. No visitor
//! gets more than [`MAX_CONVERSIONS_PER_VISITOR_HOUR`] conversions recorded in an hour (the rest
//! are dropped and counted), and a browser's (`unsigned`) conversion carries at most
//! [`MAX_BROWSER_VALUE`]: one visitor cannot flood the records.
//!
//! Who sent a body decides what it may claim: only a request with the collector's token
//! (`--token`, `Authorization: Bearer …`: the edge worker's `VITRINE_COLLECT_TOKEN`) keeps the
//! `trust` and `source` its records state, and may send `page` records; any other sender — a
//! page's beacon, anyone on the network — has every record marked `unsigned` from the
//! `browser`, which `analyze` does not count by default. So no shopper can write a signed
//! purchase.
//!
//! SIGTERM or SIGINT stops accepting, finishes the bodies in flight, and exits 0: no accepted
//! line is lost or torn.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tiny_http::{Header, Method, Request, Response, Server};
use vitrine::events::{
    browser_value_ok, read_record, to_ndjson, EventTrust, Record, Source, MAX_BROWSER_VALUE,
};

/// Conversion order ids remembered for de-duplication; beyond it the oldest half is forgotten.
const MAX_ORDERS: usize = 1_000_000;
const WORKERS: usize = 4;
/// Conversions recorded per visitor per hour (by the records' own `ts`); the rest are dropped.
pub const MAX_CONVERSIONS_PER_VISITOR_HOUR: u32 = 30;

#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on (loopback by default).
    #[arg(long, default_value = "127.0.0.1:8788")]
    listen: String,
    /// Folder of the `dt=YYYY-MM-DD/hour=HH/` partitions.
    #[arg(long, default_value = "events")]
    out: PathBuf,
    /// Largest accepted body, in bytes.
    #[arg(long, default_value_t = 1 << 20)]
    max_body: usize,
    /// The token of trusted senders (the edge worker's `VITRINE_COLLECT_TOKEN`): only a body
    /// sent with `Authorization: Bearer TOKEN` keeps the trust and source its records state.
    #[arg(long, env = "VITRINE_COLLECT_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

/// Whether `req` carries the collector's token (compared in constant time).
fn trusted(req: &Request, token: Option<&str>) -> bool {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return false;
    };
    let expected = format!("Bearer {token}");
    req.headers()
        .iter()
        .filter(|h| h.field.equiv("authorization"))
        .any(|h| {
            let got = h.value.as_str().as_bytes();
            got.len() == expected.len()
                && got
                    .iter()
                    .zip(expected.as_bytes())
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
        })
}

/// A record as an untrusted sender may state it: `unsigned`, from the `browser`; `None` for a
/// `page` record, which only the worker writes.
fn as_untrusted(record: Record) -> Option<Record> {
    Some(match record {
        Record::Exposure(mut e) => {
            (e.trust, e.source) = (EventTrust::Unsigned, Source::Browser);
            Record::Exposure(e)
        }
        Record::Conversion(mut c) => {
            (c.trust, c.source) = (EventTrust::Unsigned, Source::Browser);
            Record::Conversion(c)
        }
        Record::Page(_) => return None,
    })
}

/// The files of this run and the conversions it has seen.
struct Store {
    out: PathBuf,
    run: String,
    files: Mutex<HashMap<String, File>>,
    orders: Mutex<HashSet<String>>,
    /// Conversions per (visitor, hour) recorded so far.
    per_visitor: Mutex<HashMap<(String, u64), u32>>,
    lines: AtomicU64,
    duplicates: AtomicU64,
    over_limit: AtomicU64,
}

/// The `dt=…/hour=…` partition of a unix-milliseconds timestamp.
fn partition(ts_ms: u64) -> String {
    let t = i64::try_from(ts_ms / 1000)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "dt={:04}-{:02}-{:02}/hour={:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour()
    )
}

fn ts_of(e: &Record) -> u64 {
    match e {
        Record::Exposure(x) => x.ts,
        Record::Conversion(x) => x.ts,
        Record::Page(x) => x.ts,
    }
}

impl Store {
    /// Writes a checked body: its lines grouped by partition, each group in one `write`.
    fn write(&self, records: Vec<(Record, Cow<'_, str>)>) -> std::io::Result<usize> {
        let mut groups: Vec<(String, String)> = Vec::new();
        let mut written = 0;
        for (event, line) in records {
            if let Record::Conversion(c) = &event {
                // The same order, or the same click-stream event (sent by the browser and
                // folded from `vt_e` by the edge), is recorded once.
                let key = match (&c.order, &c.event) {
                    (Some(order), _) => Some(format!("{}\u{1f}{}\u{1f}o:{order}", c.site, c.kind)),
                    (None, Some(id)) => Some(format!("{}\u{1f}{}\u{1f}e:{id}", c.site, c.kind)),
                    (None, None) => None,
                };
                if let Some(key) = key {
                    let mut seen = self.orders.lock().unwrap_or_else(|p| p.into_inner());
                    if seen.len() >= MAX_ORDERS {
                        seen.clear();
                    }
                    if !seen.insert(key) {
                        self.duplicates.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                }
                let mut counts = self.per_visitor.lock().unwrap_or_else(|p| p.into_inner());
                if counts.len() >= MAX_ORDERS {
                    counts.clear();
                }
                let count = counts
                    .entry((c.visitor.clone(), c.ts / 3_600_000))
                    .or_default();
                if *count >= MAX_CONVERSIONS_PER_VISITOR_HOUR {
                    self.over_limit.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                *count += 1;
            }
            let part = partition(ts_of(&event));
            let group = match groups.iter_mut().find(|(p, _)| *p == part) {
                Some((_, g)) => g,
                None => {
                    groups.push((part, String::new()));
                    &mut groups.last_mut().expect("just pushed").1
                }
            };
            group.push_str(&line);
            group.push('\n');
            written += 1;
        }
        let mut files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        for (part, text) in groups {
            let file = match files.get_mut(&part) {
                Some(f) => f,
                None => {
                    let dir = self.out.join(&part);
                    std::fs::create_dir_all(&dir)?;
                    let f = OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(dir.join(format!("{}.ndjson", self.run)))?;
                    files.entry(part).or_insert(f)
                }
            };
            file.write_all(text.as_bytes())?;
        }
        self.lines.fetch_add(written as u64, Ordering::Relaxed);
        Ok(written)
    }
}

fn text_response(status: u16, body: &str) -> Response<std::io::Cursor<Vec<u8>>> {
    let mut r = Response::from_string(format!("{body}\n")).with_status_code(status);
    for (k, v) in [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Access-Control-Allow-Origin", "*"),
    ] {
        if let Ok(h) = Header::from_bytes(k, v) {
            r.add_header(h);
        }
    }
    r
}

/// Answers one request: the status and a message (empty for 204).
fn handle(req: &mut Request, store: &Store, max_body: usize, token: Option<&str>) -> (u16, String) {
    let trusted = trusted(req, token);
    match req.method() {
        Method::Get if req.url() == "/health" => return (200, "ok".into()),
        Method::Post => {}
        Method::Options => return (204, String::new()),
        m => {
            return (
                405,
                format!("method {m} not allowed: POST NDJSON event records"),
            )
        }
    }
    if req.body_length().is_some_and(|n| n > max_body) {
        return (
            413,
            format!(
                "body of {} bytes; at most {max_body}",
                req.body_length().unwrap_or(0)
            ),
        );
    }
    let mut body = Vec::new();
    if let Err(e) = req
        .as_reader()
        .take(max_body as u64 + 1)
        .read_to_end(&mut body)
    {
        return (400, format!("body unreadable: {e}"));
    }
    if body.len() > max_body {
        return (413, format!("body over {max_body} bytes"));
    }
    let Ok(text) = std::str::from_utf8(&body) else {
        return (400, "body is not UTF-8".into());
    };
    let mut records = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let record = match read_record(line, i + 1) {
            Ok(r) if trusted => Ok(r),
            Ok(r) => as_untrusted(r).ok_or_else(|| {
                format!(
                    "line {}: page records come from the worker only (a sender with the collector's token)",
                    i + 1
                )
            }),
            Err(e) => Err(e.to_string()),
        };
        match record {
            Ok(Record::Conversion(c))
                if c.trust == EventTrust::Unsigned
                    && c.value.is_some_and(|v| !browser_value_ok(v)) =>
            {
                return (
                    400,
                    format!(
                        "line {}: an unsigned conversion's value is a number from 0 to {MAX_BROWSER_VALUE}; nothing was written",
                        i + 1
                    ),
                )
            }
            // A trusted sender's line is written as it came; another's as re-stated.
            Ok(e) if trusted => records.push((e, Cow::Borrowed(line))),
            Ok(e) => {
                let restated = to_ndjson([&e]).trim_end().to_string();
                records.push((e, Cow::Owned(restated)));
            }
            Err(e) => return (400, format!("{e}; nothing was written")),
        }
    }
    if records.is_empty() {
        return (400, "no event records in the body".into());
    }
    match store.write(records) {
        Ok(_) => (204, String::new()),
        Err(e) => {
            eprintln!("vitrine collect: cannot write events: {e}");
            (503, format!("cannot write events now ({e}); retry"))
        }
    }
}

pub fn run(opts: Args) -> Result<(), String> {
    std::fs::create_dir_all(&opts.out)
        .map_err(|e| format!("cannot create {}: {e}", opts.out.display()))?;
    let server =
        Server::http(&opts.listen).map_err(|e| format!("cannot listen on {}: {e}", opts.listen))?;
    let addr = server
        .server_addr()
        .to_ip()
        .map_or_else(|| opts.listen.clone(), |a| a.to_string());
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, stop.clone())
            .map_err(|e| format!("cannot handle signals: {e}"))?;
    }
    let started = time::OffsetDateTime::now_utc();
    let store = Arc::new(Store {
        out: opts.out.clone(),
        // One file per partition per run: a restart never appends into another run's file.
        run: format!(
            "{}-{}",
            started.unix_timestamp_nanos() / 1_000_000,
            std::process::id()
        ),
        files: Mutex::new(HashMap::new()),
        orders: Mutex::new(HashSet::new()),
        per_visitor: Mutex::new(HashMap::new()),
        lines: AtomicU64::new(0),
        duplicates: AtomicU64::new(0),
        over_limit: AtomicU64::new(0),
    });
    println!(
        "vitrine collect: listening on http://{addr}, writing to {}",
        opts.out.display()
    );
    let _ = std::io::stdout().flush();
    let server = Arc::new(server);
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (server, store, stop) = (server.clone(), store.clone(), stop.clone());
            let max_body = opts.max_body;
            let token = opts.token.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let Ok(Some(mut req)) = server.recv_timeout(Duration::from_millis(100)) else {
                        continue;
                    };
                    let (status, message) = handle(&mut req, &store, max_body, token.as_deref());
                    let _ = if status == 204 {
                        req.respond(text_response(204, "").with_data(std::io::empty(), Some(0)))
                    } else {
                        req.respond(text_response(status, &message))
                    };
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
    let files = store.files.lock().unwrap_or_else(|p| p.into_inner());
    for f in files.values() {
        let _ = f.sync_all();
    }
    eprintln!(
        "vitrine collect: stopped; {} lines written, {} duplicate conversions dropped, {} over {MAX_CONVERSIONS_PER_VISITOR_HOUR} per visitor per hour dropped",
        store.lines.load(Ordering::Relaxed),
        store.duplicates.load(Ordering::Relaxed),
        store.over_limit.load(Ordering::Relaxed)
    );
    Ok(())
}
