//! `vitrine collect` over real HTTP on 127.0.0.1: concurrent writers, oversized and malformed
//! bodies, duplicate orders and event ids, and a restart mid-stream — every accepted line is in a file
//! exactly once, and no line is torn.
#![cfg(not(target_arch = "wasm32"))] // native suite: processes and sockets

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Collector {
    child: Child,
    addr: String,
}

impl Collector {
    fn start(out: &Path, port: u16) -> Collector {
        let listen = format!("127.0.0.1:{port}");
        let mut child = Command::new(env!("CARGO_BIN_EXE_vitrine"))
            .args([
                "collect",
                "--listen",
                &listen,
                "--max-body",
                "65536",
                "--token",
                TOKEN,
                "--out",
            ])
            .arg(out)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("vitrine collect starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|s| s.split(',').next())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        Collector { child, addr }
    }

    /// SIGTERM, then a bounded wait for a clean exit.
    fn stop(mut self) {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "collector exited with {status}");
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        panic!("collector did not stop within 10 s of SIGTERM");
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The collectors' token in these tests (what the worker sends as `VITRINE_COLLECT_TOKEN`).
const TOKEN: &str = "test-collect-token";

/// One POST with `Connection: close`, as the worker sends (with the token); the status and
/// body, or `None` if the connection failed.
fn post(addr: &str, body: &[u8]) -> Option<(u16, String)> {
    post_as(addr, body, Some(TOKEN))
}

/// One POST, with `token` as the bearer or none (a page's beacon, anyone).
fn post_as(addr: &str, body: &[u8], token: Option<&str>) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let head = format!(
        "POST /collect HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/plain\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).ok()?;
    s.write_all(body).ok()?;
    let mut response = String::new();
    s.read_to_string(&mut response).ok()?;
    let status = response.get(9..12)?.parse().ok()?;
    let text = response.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    Some((status, text))
}

fn exposure(visitor: u32, n: u32, ts: u64) -> String {
    format!(
        r#"{{"type":"exposure","v":1,"ts":{ts},"site":"t","visitor":"{visitor:032x}","session":"1","request":"{n:016x}","slot":"hero","variant":"hero-trail","segments":["hiker"],"page_type":"home","device":"desktop","trust":"signed","source":"edge"}}"#
    )
}

/// Every line of every file under `dir`, checked to be a whole record.
fn lines_in(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let text = std::fs::read_to_string(&p).unwrap();
                assert!(
                    text.is_empty() || text.ends_with('\n'),
                    "{}: torn last line",
                    p.display()
                );
                for l in text.lines() {
                    serde_json::from_str::<serde_json::Value>(l)
                        .unwrap_or_else(|e| panic!("{}: torn line {l:?}: {e}", p.display()));
                    out.push(l.to_string());
                }
            }
        }
    }
    out
}

/// A free loopback port (the collector binds with SO_REUSEADDR, so a restart takes it again).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vitrine-collect-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn eight_concurrent_writers_and_a_restart_lose_and_repeat_nothing() {
    let out = temp_dir("writers");
    let port = free_port();
    let collector = Collector::start(&out, port);
    let addr = collector.addr.clone();
    // Two hours apart: lines land in two partitions.
    let hours = [1_764_633_600_000u64, 1_764_640_800_000];
    let writer = |w: u32, addr: String, rounds: u32| {
        std::thread::spawn(move || {
            let mut accepted = Vec::new();
            for r in 0..rounds {
                let batch: Vec<String> = (0..20)
                    .map(|i| exposure(w, r * 100 + i, hours[(i % 2) as usize]))
                    .collect();
                let body = batch.join("\n") + "\n";
                // Refused or unanswered bodies are retried: all or nothing, so no duplicates.
                for _ in 0..200 {
                    match post(&addr, body.as_bytes()) {
                        Some((204, _)) => {
                            accepted.extend(batch.clone());
                            break;
                        }
                        _ => std::thread::sleep(Duration::from_millis(20)),
                    }
                }
            }
            accepted
        })
    };
    let first: Vec<_> = (0..8).map(|w| writer(w, addr.clone(), 25)).collect();
    std::thread::sleep(Duration::from_millis(150));
    // A restart while the writers are busy: SIGTERM finishes the bodies in flight.
    collector.stop();
    let collector = Collector::start(&out, port);
    let second: Vec<_> = (8..12)
        .map(|w| writer(w, collector.addr.clone(), 10))
        .collect();
    let mut accepted: Vec<String> = first
        .into_iter()
        .chain(second)
        .flat_map(|h| h.join().unwrap())
        .collect();
    collector.stop();

    let mut written = lines_in(&out);
    assert!(
        accepted.len() >= 12 * 20 * 5,
        "{} lines accepted",
        accepted.len()
    );
    accepted.sort();
    written.sort();
    let mut counts: HashMap<&str, u32> = HashMap::new();
    for l in &written {
        *counts.entry(l.as_str()).or_default() += 1;
    }
    assert!(counts.values().all(|n| *n == 1), "a line written twice");
    assert_eq!(
        written.len(),
        accepted.len(),
        "accepted lines missing from the files"
    );
    assert_eq!(written, accepted);
    // Hourly partitions by each record's own time.
    for part in ["dt=2025-12-02/hour=00", "dt=2025-12-02/hour=02"] {
        assert!(out.join(part).is_dir(), "{part}");
    }
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn bad_bodies_get_a_precise_4xx_and_write_nothing() {
    let out = temp_dir("bad");
    let c = Collector::start(&out, free_port());
    let good = exposure(1, 1, 1_764_633_600_000);
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (b"not json\n".to_vec(), 400, "line 1: expected ident"),
        (
            format!("{good}\n{}\n", good.replace("\"v\":1", "\"v\":9")).into_bytes(),
            400,
            "line 2: schema version 9 is not 1",
        ),
        (
            good.replace("\"slot\":\"hero\",", "").into_bytes(),
            400,
            "line 1: missing field `slot`",
        ),
        (
            good.replace("\"v\":1,", "\"v\":1,\"email\":\"x@y\",")
                .into_bytes(),
            400,
            "unknown field `email`",
        ),
        (
            good.replace(&format!("{:032x}", 1), "cookie").into_bytes(),
            400,
            "visitor is not 32 hex digits",
        ),
        (vec![0xff, 0xfe], 400, "body is not UTF-8"),
        (b"\n\n".to_vec(), 400, "no event records"),
        (
            format!("{good}\n").repeat(400).into_bytes(),
            413,
            "at most 65536",
        ),
    ];
    for (body, status, message) in cases {
        let (got, text) = post(&c.addr, &body).expect("an answer");
        assert_eq!(got, status, "{text}");
        assert!(text.contains(message), "{text:?} lacks {message:?}");
    }
    assert!(lines_in(&out).is_empty(), "a refused body wrote lines");
    // A purchase with an order id counts once, however often it is sent.
    let purchase = format!(
        r#"{{"type":"conversion","v":1,"ts":1764633600000,"site":"t","visitor":"{:032x}","kind":"purchase","value":129.9,"currency":"EUR","order":"A-1042","source":"origin","trust":"signed"}}"#,
        1
    );
    for _ in 0..3 {
        assert_eq!(post(&c.addr, purchase.as_bytes()).unwrap().0, 204);
    }
    // An add-to-cart beaconed by the browser and folded from `vt_e` by the edge carries one
    // event id: once. Another add-to-cart without an id is its own.
    let cart = |source: &str, id: &str| {
        format!(
            r#"{{"type":"conversion","v":1,"ts":1764633600000,"site":"t","visitor":"{:032x}","kind":"add_to_cart","sku":"boot-1",{id}"source":"{source}","trust":"unsigned"}}"#,
            1
        )
    };
    for body in [
        cart("browser", r#""event":"c0ffee01","#),
        cart("edge", r#""event":"c0ffee01","#),
        cart("edge", ""),
    ] {
        assert_eq!(post(&c.addr, body.as_bytes()).unwrap().0, 204);
    }
    assert_eq!(post(&c.addr, good.as_bytes()).unwrap().0, 204);
    c.stop();
    let lines = lines_in(&out);
    assert_eq!(lines.iter().filter(|l| l.contains("A-1042")).count(), 1);
    assert_eq!(lines.iter().filter(|l| l.contains("c0ffee01")).count(), 1);
    assert_eq!(
        lines.iter().filter(|l| l.contains("add_to_cart")).count(),
        2
    );
    assert_eq!(lines.len(), 4);
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn one_visitor_cannot_flood_the_conversions() {
    let out = temp_dir("flood");
    let c = Collector::start(&out, free_port());
    let order = |visitor: u32, i: u32, ts: u64, value: f64, trust: &str| {
        format!(
            r#"{{"type":"conversion","v":1,"ts":{ts},"site":"t","visitor":"{visitor:032x}","kind":"purchase","value":{value},"order":"O-{visitor}-{i}","source":"browser","trust":"{trust}"}}"#
        )
    };
    // A browser's purchase of 1e12: refused whole, with the bound.
    let (status, text) = post(
        &c.addr,
        order(1, 0, 1_764_633_600_000, 1e12, "unsigned").as_bytes(),
    )
    .unwrap();
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("line 1: an unsigned conversion's value is a number from 0 to 1000000; nothing was written"), "{text}");
    // 50 distinct orders from one visitor within an hour: 30 are recorded; another visitor's,
    // and the same visitor's in the next hour, are not held back.
    for i in 0..50 {
        let body = order(1, i, 1_764_633_600_000 + u64::from(i), 10.0, "unsigned");
        assert_eq!(post(&c.addr, body.as_bytes()).unwrap().0, 204);
    }
    for body in [
        order(2, 0, 1_764_633_600_000, 10.0, "signed"),
        order(1, 99, 1_764_633_600_000 + 3_600_000, 10.0, "signed"),
    ] {
        assert_eq!(post(&c.addr, body.as_bytes()).unwrap().0, 204);
    }
    c.stop();
    let lines = lines_in(&out);
    let of = |v: u32| {
        lines
            .iter()
            .filter(|l| l.contains(&format!("\"O-{v}-")))
            .count()
    };
    assert_eq!(of(1), 31, "30 in the first hour, 1 in the next");
    assert_eq!(of(2), 1);
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn only_the_token_keeps_the_trust_a_record_states() {
    let out = temp_dir("trust");
    let c = Collector::start(&out, free_port());
    let purchase = |visitor: u32| {
        format!(
            r#"{{"type":"conversion","v":1,"ts":1764633600000,"site":"t","visitor":"{visitor:032x}","kind":"purchase","value":129.9,"order":"T-{visitor}","source":"origin","trust":"signed"}}"#
        )
    };
    // Anyone without the token: written, but as the browser's unsigned records.
    for token in [None, Some("wrong-token")] {
        let body = format!(
            "{}\n{}\n",
            purchase(u32::from(token.is_some())),
            exposure(9, 1, 1764633600000)
        );
        assert_eq!(post_as(&c.addr, body.as_bytes(), token).unwrap().0, 204);
    }
    // The worker, with the token: as stated.
    assert_eq!(
        post(&c.addr, format!("{}\n", purchase(7)).as_bytes())
            .unwrap()
            .0,
        204
    );
    // A page record is the worker's only.
    let page = r#"{"type":"page","v":1,"ts":1764633600000,"site":"t","visitor":"00000000000000000000000000000001","session":"1","request":"r","path":"/","query":[],"device":"desktop"}"#;
    let (status, text) = post_as(&c.addr, format!("{page}\n").as_bytes(), None).unwrap();
    assert_eq!(status, 400, "{text}");
    assert!(
        text.contains("line 1: page records come from the worker only"),
        "{text}"
    );
    c.stop();
    let records: Vec<serde_json::Value> = lines_in(&out)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let trust = |order: &str| {
        let r = records.iter().find(|r| r["order"] == order).unwrap();
        (
            r["trust"].as_str().unwrap().to_string(),
            r["source"].as_str().unwrap().to_string(),
        )
    };
    assert_eq!(trust("T-0"), ("unsigned".into(), "browser".into()));
    assert_eq!(trust("T-1"), ("unsigned".into(), "browser".into()));
    assert_eq!(trust("T-7"), ("signed".into(), "origin".into()));
    let exposures: Vec<_> = records.iter().filter(|r| r["type"] == "exposure").collect();
    assert_eq!(exposures.len(), 2);
    assert!(exposures
        .iter()
        .all(|e| e["trust"] == "unsigned" && e["source"] == "browser"));
    let _ = std::fs::remove_dir_all(&out);
}
