use super::*;

fn stamp() -> Stamp {
    Stamp {
        ts: 1,
        site: "s".into(),
        visitor: "00".repeat(16),
        session: "1".into(),
        request: "ab".repeat(8),
        trust: EventTrust::Signed,
        source: Source::Origin,
    }
}

#[test]
fn conversion_headers() {
    let c = parse_conversion(
        "purchase; value=129.90; currency=eur; order=A-1042; x=y",
        &stamp(),
    )
    .unwrap();
    assert_eq!(
        (
            c.kind.as_str(),
            c.value,
            c.currency.as_deref(),
            c.order.as_deref()
        ),
        ("purchase", Some(129.9), Some("EUR"), Some("A-1042"))
    );
    assert!(c.issues.is_empty());
    let long = format!("purchase; order={}", "é".repeat(100));
    let c = parse_conversion(&long, &stamp()).unwrap();
    assert_eq!(c.issues, vec!["truncated:order"]);
    assert!(c.order.unwrap().len() <= MAX_TEXT);
    assert_eq!(
        parse_conversion(" ; value=1", &stamp()),
        Err(ConversionError::NoKind)
    );
    assert!(matches!(
        parse_conversion("buy now", &stamp()),
        Err(ConversionError::BadKind(_))
    ));
    assert!(matches!(
        parse_conversion("purchase; value=-3", &stamp()),
        Err(ConversionError::BadValue(_))
    ));
    assert!(matches!(
        parse_conversion("purchase; value=NaN", &stamp()),
        Err(ConversionError::BadValue(_))
    ));
    assert!(matches!(
        parse_conversion("purchase; order", &stamp()),
        Err(ConversionError::BadParameter(_))
    ));
}

#[test]
fn browser_records_belong_to_the_verified_visitor() {
    let forged = parse_conversion(
        "add_to_cart; sku=boot-1",
        &Stamp {
            visitor: "f".repeat(32),
            site: "evil".into(),
            ..stamp()
        },
    )
    .unwrap();
    let Some(Record::Conversion(c)) = from_browser(Record::Conversion(forged), &stamp()) else {
        panic!("a conversion stays a conversion");
    };
    assert_eq!(
        (c.visitor.as_str(), c.site.as_str(), c.trust, c.source),
        (
            "00".repeat(16).as_str(),
            "s",
            EventTrust::Unsigned,
            Source::Browser
        )
    );
    let page = PageView {
        v: 1,
        ts: 1,
        site: "s".into(),
        visitor: "0".repeat(32),
        session: "1".into(),
        request: "r".into(),
        path: "/".into(),
        query: vec![],
        referrer: None,
        device: "desktop".into(),
        country: None,
        events: vec![],
        issues: vec![],
    };
    assert_eq!(
        from_browser(Record::Page(page), &stamp()),
        None,
        "page records are the edge's own"
    );
}

#[test]
fn records_round_trip_and_bad_ones_say_why() {
    let c = Record::Conversion(parse_conversion("add_to_cart; sku=boot-1", &stamp()).unwrap());
    let text = to_ndjson([&c]);
    assert!(text.ends_with('\n') && text.matches('\n').count() == 1);
    assert!(
        text.starts_with("{\"type\":\"conversion\",\"v\":1,"),
        "{text}"
    );
    assert_eq!(read_record(text.trim_end(), 1).unwrap(), c);
    let bad_version = text.replace("\"v\":1", "\"v\":2");
    assert_eq!(
        read_record(bad_version.trim_end(), 3)
            .unwrap_err()
            .to_string(),
        "line 3: schema version 2 is not 1"
    );
    let bad_visitor = text.replace(&"00".repeat(16), "cookie-value");
    assert!(read_record(bad_visitor.trim_end(), 1)
        .unwrap_err()
        .message
        .contains("32 hex digits"));
    let unknown = text.replace("\"v\":1,", "\"v\":1,\"email\":\"a@b\",");
    assert!(read_record(unknown.trim_end(), 1)
        .unwrap_err()
        .message
        .contains("unknown field `email`"));
    assert!(read_record("{\"type\":\"click\"}", 1)
        .unwrap_err()
        .message
        .contains("unknown variant"));
}
