//! The documentation's examples, run: every ```console block of README.md and docs/*.md, its
//! `$ ` lines as shell commands (in order, in one scratch directory per page, where `src/` and
//! `docs/` are this repository's and `vitrine` is the binary under test), each shown output line expected
//! in the actual output, in order. A line `…` stands for any output, a line ending in `…` for
//! a line that starts so. A documented command that breaks fails here.
#![cfg(not(target_arch = "wasm32"))]

use std::path::{Path, PathBuf};
use std::process::Command;

struct Example {
    command: String,
    expected: Vec<String>,
}

fn examples(markdown: &str) -> Vec<Example> {
    let mut out: Vec<Example> = Vec::new();
    let mut in_console = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_console = !in_console && line.trim() == "```console";
            continue;
        }
        if !in_console {
            continue;
        }
        if let Some(cmd) = line.strip_prefix("$ ") {
            out.push(Example {
                command: cmd.to_string(),
                expected: Vec::new(),
            });
        } else if let Some(last) = out.last_mut() {
            last.expected.push(line.to_string());
        }
    }
    out
}

/// Whether `expected` lines appear in `actual` in order (`…` skips, `x…` matches a prefix).
fn matches(expected: &[String], actual: &str) -> Result<(), String> {
    let lines: Vec<&str> = actual.lines().collect();
    let mut at = 0;
    for e in expected.iter().filter(|e| e.trim() != "…") {
        let found = lines[at..].iter().position(|l| match e.strip_suffix('…') {
            Some(prefix) => l.starts_with(prefix),
            None => l.trim_end() == e.trim_end(),
        });
        match found {
            Some(i) => at += i + 1,
            None => return Err(format!("expected line not found (in order): {e:?}")),
        }
    }
    Ok(())
}

fn scratch(page: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vitrine-docs-{}-{page}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    #[cfg(unix)]
    for d in ["src", "docs"] {
        let target = Path::new(env!("CARGO_MANIFEST_DIR")).join(d);
        std::os::unix::fs::symlink(target, dir.join(d)).unwrap();
    }
    dir
}

#[test]
fn every_console_example_in_the_docs_runs_as_shown() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_vitrine"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut pages: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    pages.push(root.join("README.md"));
    pages.sort();
    let mut ran = 0;
    for page in pages {
        let text = std::fs::read_to_string(&page).unwrap();
        let list = examples(&text);
        if list.is_empty() {
            continue;
        }
        let name = page.file_stem().unwrap().to_string_lossy().to_string();
        let dir = scratch(&name);
        for ex in list {
            let out = Command::new("sh")
                .args(["-c", &ex.command])
                .current_dir(&dir)
                .env("PATH", &path)
                .env_remove("VITRINE_STATE_KEYS")
                .env_remove("VITRINE_TRAITS_KEYS")
                .output()
                .unwrap();
            let actual = String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success(),
                "{}: `{}` failed:\n{actual}",
                page.display(),
                ex.command
            );
            if let Err(e) = matches(&ex.expected, &actual) {
                panic!(
                    "{}: `{}`: {e}\n--- actual:\n{actual}",
                    page.display(),
                    ex.command
                );
            }
            ran += 1;
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
    assert!(ran >= 10, "only {ran} examples ran");
}

#[test]
fn the_matcher_fails_when_it_should() {
    let exp = |lines: &[&str]| lines.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(matches(&exp(&["a", "…", "c"]), "a\nb\nc\n").is_ok());
    assert!(
        matches(&exp(&["c", "a"]), "a\nb\nc\n").is_err(),
        "order matters"
    );
    assert!(matches(&exp(&["b…"]), "bcd\n").is_ok());
    assert!(matches(&exp(&["x"]), "a\n").is_err());
}

#[test]
fn the_readme_shows_the_minimal_configuration_as_it_is() {
    // The README's ```json block is docs/examples/minimal.json, which the console examples
    // check and decide with: the two cannot drift apart.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let block = readme
        .split("```json\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a ```json block in the README");
    let file = std::fs::read_to_string(root.join("docs/examples/minimal.json")).unwrap();
    assert_eq!(block, file);
}

#[test]
fn the_configuration_reference_names_every_built_in_name() {
    let page = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/configuration.md"
    ))
    .unwrap();
    for b in &vitrine::expr::names::BUILTINS {
        assert!(
            page.contains(&format!("`{}`", b.name)),
            "docs/configuration.md does not name `{}`",
            b.name
        );
    }
}

#[test]
fn every_default_is_written_in_its_doc_comment_and_in_the_configuration_reference() {
    // The schema carries each field's default (serde's) and its doc comment: a scalar default
    // must read "Default: `value`" there, and docs/configuration.md must give the value beside
    // the field's name.
    let schema = serde_json::to_value(vitrine::config::json_schema()).unwrap();
    let page = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/configuration.md"
    ))
    .unwrap();
    let mut checked = 0;
    let defs = schema["$defs"].as_object().unwrap();
    for (def, body) in defs {
        let Some(props) = body["properties"].as_object() else {
            continue;
        };
        for (name, prop) in props {
            let value = match &prop["default"] {
                serde_json::Value::Number(n) => match n.as_f64() {
                    Some(f) if f.fract() == 0.0 => format!("{}", f as i64),
                    _ => n.to_string(),
                },
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Bool(b) => b.to_string(),
                _ => continue, // lists and maps default to empty
            };
            let about = prop["description"].as_str().unwrap_or("");
            assert!(
                about.contains(&format!("Default: `{value}`")),
                "{def}.{name}: its doc comment does not say Default: `{value}`"
            );
            let field = format!("`{name}`");
            assert!(
                page.lines()
                    .any(|l| l.contains(&field) && l.contains(&value)),
                "docs/configuration.md: no line gives {field} with its default {value}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 11, "{checked} defaults");
}
