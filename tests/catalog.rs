//! `vitrine catalog`: product feeds (TSV, CSV, JSON Lines) compiled into the catalog, every
//! mistake named by line and column, and the compiled form read back (never a panic on bytes
//! from outside).
#![cfg(not(target_arch = "wasm32"))]

use std::path::PathBuf;
use std::process::Command;

use proptest::prelude::*;
use vitrine::catalog::feed::{self, Format};
use vitrine::catalog::{Availability, Catalog, Price};

fn vitrine(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_vitrine"))
        .args(args)
        .output()
        .expect("vitrine runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn temp(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vitrine-catalog-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

const TSV: &str = "id\ttitle\tlink\tprice\timage_link\tavailability\tproduct_type\tsale_price\tbrand\titem_group_id\tcolor\n\
hiking-ridgeline-mid\tRidgeline Mid GTX Boot\thttps://shop.example/p/hiking-ridgeline-mid\t219.00 USD\thttps://shop.example/i/r.jpg\tin stock\tHiking > Boots\t199.00 USD\tTrailhead\tridgeline\tbrown\n\
hiking-summit-pack\tSummit Pack 40 \"<b>\"\thttps://shop.example/p/hiking-summit-pack\t179 USD\t\tout_of_stock\tHiking > Packs\t\t\t\tred\n";

#[test]
fn the_three_formats_give_the_same_items() {
    let csv = "id,title,link,price,image_link,availability,product_type,sale_price,brand,item_group_id,color\n\
hiking-ridgeline-mid,Ridgeline Mid GTX Boot,https://shop.example/p/hiking-ridgeline-mid,219.00 USD,https://shop.example/i/r.jpg,in stock,Hiking > Boots,199.00 USD,Trailhead,ridgeline,brown\n\
hiking-summit-pack,\"Summit Pack 40 \"\"<b>\"\"\",https://shop.example/p/hiking-summit-pack,179 USD,,out_of_stock,Hiking > Packs,,,,red\n";
    let jsonl = r#"{"id": "hiking-ridgeline-mid", "title": "Ridgeline Mid GTX Boot", "link": "https://shop.example/p/hiking-ridgeline-mid", "price": "219.00 USD", "image_link": "https://shop.example/i/r.jpg", "availability": "in stock", "product_type": "Hiking > Boots", "sale_price": "199.00 USD", "brand": "Trailhead", "item_group_id": "ridgeline", "color": "brown"}
{"id": "hiking-summit-pack", "title": "Summit Pack 40 \"<b>\"", "link": "https://shop.example/p/hiking-summit-pack", "price": "179 USD", "availability": "out_of_stock", "product_type": "Hiking > Packs"}
"#;
    let tsv = feed::read(TSV, Format::Tsv).unwrap();
    assert_eq!(feed::read(csv, Format::Csv).unwrap(), tsv);
    assert_eq!(feed::read(jsonl, Format::JsonLines).unwrap(), tsv);
    assert_eq!(Format::of("feed.txt", TSV), Format::Tsv);
    assert_eq!(Format::of("feed.txt", jsonl), Format::JsonLines);
    assert_eq!(Format::of("feed.csv", csv), Format::Csv);
    let boot = &tsv[0];
    assert_eq!(
        boot.price,
        Price {
            minor: 21_900,
            currency: "USD".into()
        }
    );
    assert_eq!(boot.sale_price.as_ref().map(|p| p.minor), Some(19_900));
    assert_eq!(boot.image.as_deref(), Some("https://shop.example/i/r.jpg"));
    assert_eq!(tsv[1].availability, Availability::OutOfStock);
    assert_eq!(
        tsv[1].title, "Summit Pack 40 \"<b>\"",
        "kept as written: escaped where rendered"
    );
    let catalog = Catalog::new(tsv.clone());
    let back = Catalog::from_compiled(&catalog.to_compiled()).unwrap();
    assert_eq!(back, catalog);
    assert_eq!(back.get("hiking-summit-pack").unwrap().title, tsv[1].title);
    assert!(back.get("nope").is_none());
}

#[test]
fn every_mistake_is_named_by_line_and_column() {
    let bad = "id,title,link,price,availability\n\
a-1,Boot,javascript:alert(1),12.00 USD,in stock\n\
a-2,Pack,https://shop.example/a-2,\"12,00 EUR\",in stock\n\
a-1,Boot again,https://shop.example/a-1,5,in stock\n\
a-3,,https://shop.example/a-3,5,maybe\n\
a-4,Tent,https://shop.example/a-4,5\n";
    let (errors, total) = feed::read(bad, Format::Csv).unwrap_err();
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        text,
        [
            "line 2, column link: 'javascript:alert(1)' is not an http(s) URL",
            "line 3, column price: unparsable price '12,00 EUR' (e.g. 15.00 USD)",
            "line 4, column id: duplicate id 'a-1'",
            "line 5, column title: empty (a required field)",
            "line 5, column availability: 'maybe' is not in stock, out of stock, preorder or backorder",
            "line 6: 4 fields where the header has 5",
        ]
    );
    assert_eq!(total, 6);
    let (errors, _) = feed::read("id\ttitle\tprice\n1\tA\t5\n", Format::Tsv).unwrap_err();
    assert_eq!(
        errors[0].to_string(),
        "line 1: missing required column link (the header has: id, title, price)"
    );
    let (errors, _) = feed::read("{\"id\": 1}\n[1]\nnot json\n", Format::JsonLines).unwrap_err();
    assert!(
        errors
            .iter()
            .any(|e| e.to_string() == "line 2: not a JSON object"),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.to_string().starts_with("line 3: not JSON: ")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.to_string() == "line 1, column title: empty (a required field)"),
        "{errors:?}"
    );
}

#[test]
fn the_command_compiles_summarizes_and_shows() {
    let feed = temp("feed.tsv", TSV);
    let out = feed.with_file_name("catalog.bin");
    let (code, stdout, err) = vitrine(&[
        "catalog",
        "compile",
        feed.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["items"], 2);
    assert_eq!(summary["out_of_stock"], 1);
    assert_eq!(summary["product_types"], 2);
    assert_eq!(summary["currencies"], serde_json::json!(["USD"]));
    let (code, stdout, err) = vitrine(&[
        "catalog",
        "show",
        out.to_str().unwrap(),
        "hiking-ridgeline-mid",
    ]);
    assert_eq!(code, 0, "{err}");
    let item: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(item["price"], "219.00 USD");
    assert_eq!(item["sale_price"], "199.00 USD");
    let (code, _, err) = vitrine(&["catalog", "show", out.to_str().unwrap(), "nope"]);
    assert_eq!(code, 2);
    assert!(err.contains("no item 'nope'"), "{err}");
    // A feed with mistakes writes nothing and exits 1, naming each.
    let bad = temp("bad.csv", "id,title,link,price\n1,A,/relative,5\n");
    let none = bad.with_file_name("none.bin");
    let (code, _, err) = vitrine(&[
        "catalog",
        "compile",
        bad.to_str().unwrap(),
        "-o",
        none.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("bad.csv: line 2, column link: '/relative' is not an http(s) URL"),
        "{err}"
    );
    assert!(!none.exists());
    // Not a catalog.
    let (code, _, err) = vitrine(&["catalog", "show", feed.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("not a compiled Vitrine catalog"), "{err}");
    std::fs::remove_dir_all(feed.parent().unwrap()).unwrap();
}

proptest! {
    /// Bytes from outside (a KV value) never panic the reader: a catalog or an error.
    #[test]
    fn compiled_bytes_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..200), cut in 0usize..400) {
        let good = Catalog::new(feed::read(TSV, Format::Tsv).unwrap()).to_compiled();
        let _ = Catalog::from_compiled(&good[..cut.min(good.len())]);
        let mut altered = good.clone();
        altered.extend(&tail);
        let _ = Catalog::from_compiled(&altered);
        let mut prefixed = good[..good.len().min(10)].to_vec();
        prefixed.extend(&tail);
        let _ = Catalog::from_compiled(&prefixed);
    }
}
