//! The signed visitor state: codec round-trips, adversarial cookies, rotation, decay, sessions,
//! size budget, and deterministic bucketing.
#![cfg(not(target_arch = "wasm32"))] // native suite: files, processes, proptest

mod common;

use proptest::prelude::*;
use vitrine::config::MAX_SKU_LEN;
use vitrine::decide::bucket;
use vitrine::state::b64;
use vitrine::state::{
    self, decay, ItemKind, Keyring, Protection, RecentItem, SlotCounter, StateIssue, VisitorState,
};
use vitrine::Mode;

use common::*;

fn arb_state(dims: usize, slots: usize) -> impl Strategy<Value = VisitorState> {
    (
        any::<[u8; 16]>(),
        0u32..2_000_000_000,
        0u32..10_000_000,
        0u32..10_000,
        1u32..100_000,
        0u32..10_000,
        prop::collection::vec(0u32..=10_000, dims),
        prop::collection::vec((1u8..=3, "[a-z0-9-]{1,32}"), 0..=8),
        prop::collection::vec((any::<u8>(), any::<u16>()), slots),
        any::<u8>(),
    )
        .prop_map(
            |(id, first, span, idle, visits, views, scores, recent, counters, consent)| {
                VisitorState {
                    id,
                    first_seen: first,
                    last_seen: first + span,
                    session_start: first + span - idle.min(span),
                    visits,
                    session_views: views,
                    stored_scores: scores.clone(),
                    scores_at: first + span,
                    scores,
                    recent: recent
                        .into_iter()
                        .map(|(k, sku)| RecentItem {
                            kind: ItemKind::from_byte(k).unwrap(),
                            sku,
                        })
                        .collect(),
                    counters: counters
                        .into_iter()
                        .map(|(session, total)| SlotCounter { session, total })
                        .collect(),
                    consent,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn codec_round_trips(s in arb_state(7, 6)) {
        let site = demo();
        let bytes = state::encode(&s, &site);
        prop_assert_eq!(state::decode(&bytes, &site), Ok(s.clone()));
        // And through the seal.
        let k = keys();
        let token = state::seal(&s, Protection::Signed(&k.state), &site);
        let loaded = state::open(&[&token], Protection::Signed(&k.state), &site, s.last_seen, [0; 16]);
        prop_assert_eq!(loaded.issue, None);
        prop_assert_eq!(loaded.state, s);
    }

    #[test]
    fn any_bytes_decode_without_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = state::decode(&bytes, &demo());
    }

    #[test]
    fn any_cookie_opens_to_a_usable_state(token in ".{0,1200}") {
        let site = demo();
        let k = keys();
        let loaded = state::open(&[&token], Protection::Signed(&k.state), &site, 1_000, [9; 16]);
        // Random text is never accepted as a signed state.
        prop_assert!(loaded.fresh);
        prop_assert!(loaded.issue.is_some());
        prop_assert_eq!(loaded.state.scores.len(), site.dimensions.len());
        let unsigned = state::open(&[&token], Protection::Unsigned, &site, 1_000, [9; 16]);
        prop_assert_eq!(unsigned.state.scores.len(), site.dimensions.len());
    }

    #[test]
    fn any_events_cookie_is_bounded(raw in ".{0,5000}") {
        let (events, _) = vitrine::signals::decode_events(&raw, 16);
        prop_assert!(events.len() <= 16);
    }

    #[test]
    fn any_traits_token_is_safe(token in ".{0,300}") {
        let k = keys();
        prop_assert!(vitrine::signals::open_traits(&token, k.traits.as_ref(), 1_000).is_err());
    }

    #[test]
    fn any_expression_compiles_or_errors(src in ".{0,200}") {
        let doc = serde_json::json!({
            "version": 1, "site": "t", "dimensions": {"hiking": {"half_life_hours": 1}},
            "signals": [{"on": "page_view", "add": {"hiking": 1}}],
            "segments": {"s": src}
        });
        let _ = vitrine::Config::from_json(&doc.to_string());
    }

    #[test]
    fn any_bytes_as_compiled_config_error_cleanly(bytes in prop::collection::vec(any::<u8>(), 0..600), cut in 0usize..6000, flip in any::<u8>()) {
        let _ = vitrine::Config::from_compiled(&bytes);
        // A real compiled config, cut or with a byte changed: an error or a config, never a panic.
        let mut real = vitrine::Config::from_json(vitrine::config::DEMO_CONFIG).unwrap().to_compiled();
        real.truncate(cut.max(1).min(real.len()));
        let _ = vitrine::Config::from_compiled(&real);
        let mut altered = vitrine::Config::from_json(vitrine::config::DEMO_CONFIG).unwrap().to_compiled();
        let i = cut % altered.len();
        altered[i] ^= flip;
        if let Ok(cfg) = vitrine::Config::from_compiled(&altered) {
            // If it still loads, deciding with it must not panic either.
            let site = &cfg.sites[0];
            let k = keys();
            let _ = Req::new("/c/hiking").run(site, vitrine::Mode::Edge(&k));
        }
    }

    #[test]
    fn any_text_as_config_errors_cleanly(text in ".{0,300}") {
        let _ = vitrine::Config::from_json(&text);
    }

    #[test]
    fn flipped_bit_is_rejected(s in arb_state(7, 6), pos in any::<prop::sample::Index>(), bit in 0u8..8) {
        let site = demo();
        let k = keys();
        let token = state::seal(&s, Protection::Signed(&k.state), &site);
        let mut raw = b64::decode(&token).unwrap();
        let i = pos.index(raw.len());
        raw[i] ^= 1 << bit;
        let forged = b64::encode(&raw);
        let loaded = state::open(&[&forged], Protection::Signed(&k.state), &site, s.last_seen, [0; 16]);
        prop_assert!(loaded.fresh);
        let issue = loaded.issue.unwrap();
        prop_assert!(matches!(issue, StateIssue::BadMac | StateIssue::UnknownKey), "{:?}", issue);
    }
}

#[test]
fn every_rejection_has_its_reason() {
    let site = demo();
    let k = keys();
    let s = VisitorState::fresh(&site, [1; 16], 1_000);
    let good = state::seal(&s, Protection::Signed(&k.state), &site);
    let open =
        |values: &[&str]| state::open(values, Protection::Signed(&k.state), &site, 1_000, [2; 16]);
    assert_eq!(open(&[&good]).issue, None);
    assert_eq!(open(&[]).issue, None);
    assert_eq!(open(&["%%%"]).issue, Some(StateIssue::BadBase64));
    assert_eq!(open(&[&good[..10]]).issue, Some(StateIssue::Truncated));
    // A cookie cut short by a proxy: valid base64, but the tag no longer matches.
    let raw = b64::decode(&good).unwrap();
    assert_eq!(
        open(&[&b64::encode(&raw[..raw.len() - 3])]).issue,
        Some(StateIssue::BadMac)
    );
    assert_eq!(
        open(&[&"A".repeat(1001)]).issue,
        Some(StateIssue::Oversized)
    );
    assert_eq!(open(&[&good, &good]).issue, Some(StateIssue::Duplicated));
    let stranger = Keyring::parse("9:c29tZS1vdGhlci1zZWNyZXQtc29tZS1vdGhlci1zZWNyZXQ").unwrap();
    assert_eq!(
        open(&[&stranger.seal(&state::encode(&s, &site))]).issue,
        Some(StateIssue::UnknownKey)
    );
    let mut v3 = state::encode(&s, &site);
    v3[0] = 3;
    assert_eq!(
        open(&[&k.state.seal(&v3)]).issue,
        Some(StateIssue::UnknownVersion)
    );
    let mut trailing = state::encode(&s, &site);
    trailing.push(0);
    assert_eq!(
        open(&[&k.state.seal(&trailing)]).issue,
        Some(StateIssue::Malformed)
    );
    let cut = state::encode(&s, &site);
    assert_eq!(
        open(&[&k.state.seal(&cut[..cut.len() - 2])]).issue,
        Some(StateIssue::Truncated)
    );
    let old = state::open(
        &[&good],
        Protection::Signed(&k.state),
        &site,
        1_000 + 31 * 86_400,
        [2; 16],
    );
    assert_eq!(old.issue, Some(StateIssue::Expired));
    // Every failure yields a fresh, usable state with the fresh id.
    let bad = open(&["%%%"]);
    assert!(bad.fresh);
    assert_eq!(bad.state.id, [2; 16]);
}

#[test]
fn previous_key_is_accepted_and_resigned() {
    let site = demo();
    let old = vitrine::Keys {
        state: Keyring::parse(OLD_STATE_KEYS).unwrap(),
        traits: None,
    };
    let first = Req::new("/c/hiking").run(&site, Mode::Edge(&old));
    let token = first.state_token.unwrap();
    let k = keys();
    let second = Req::new("/")
        .cookie(&format!("vt={token}"))
        .at(T0 + 60_000)
        .run(&site, Mode::Edge(&k));
    assert!(second.rotated);
    assert!(!second.fresh);
    assert_eq!(
        second
            .state
            .as_ref()
            .unwrap()
            .points(site.dimension_index("hiking").unwrap()),
        10.0
    );
    // The new cookie is sealed with the current key only.
    let current_only = Keyring::parse(STATE_KEYS.split(',').next().unwrap()).unwrap();
    assert!(current_only
        .open(second.state_token.as_ref().unwrap())
        .is_ok());
    assert!(Keyring::parse(OLD_STATE_KEYS)
        .unwrap()
        .open(second.state_token.as_ref().unwrap())
        .is_err());
}

#[test]
fn decay_matches_hand_computed_values() {
    let h72 = 72.0 * 3600.0;
    assert_eq!(decay(10_000, 0, h72), 10_000);
    assert_eq!(decay(10_000, 72 * 3600, h72), 5_000);
    assert_eq!(decay(10_000, 144 * 3600, h72), 2_500);
    // 100 · 2^(−0.5) = 70.7107 → 70.71
    assert_eq!(decay(10_000, 36 * 3600, h72), 7_071);
    // 42 · 2^(−1/72) = 41.5975 → 41.60
    assert_eq!(decay(4_200, 3600, h72), 4_160);
    // A year later, nothing is left.
    assert_eq!(decay(10_000, 365 * 86_400, h72), 0);
}

#[test]
fn decay_and_caps_through_the_pipeline() {
    let site = demo();
    let k = keys();
    let hiking = site.dimension_index("hiking").unwrap();
    // Twelve category views would add 120 points: the cap (100) holds.
    let urls = vec!["/c/hiking"; 12];
    let steps = journey(&site, &k, &urls, "");
    let last = steps.last().unwrap().state.as_ref().unwrap();
    assert!(last.points(hiking) <= 100.0);
    assert!(last.points(hiking) > 99.0, "{}", last.points(hiking));
    // Three days later (one half-life) the score has halved before this request's view is added.
    let token = steps.last().unwrap().state_token.clone().unwrap();
    let later = Req::new("/")
        .cookie(&format!("vt={token}"))
        .at(T0 + 11 * 60_000 + 72 * 3_600_000)
        .run(&site, Mode::Edge(&k));
    let expect = f64::from(decay(last.scores[hiking], 72 * 3600, 72.0 * 3600.0)) / 100.0;
    assert_eq!(later.state.unwrap().points(hiking), expect);
    assert!((expect - last.points(hiking) / 2.0).abs() < 0.02);
}

#[test]
fn sessions_start_after_thirty_idle_minutes() {
    let site = demo();
    let k = keys();
    let first = Req::new("/").run(&site, Mode::Edge(&k));
    let token = first.state_token.unwrap();
    let at = |mins: u64| {
        Req::new("/")
            .cookie(&format!("vt={token}"))
            .at(T0 + mins * 60_000)
            .run(&site, Mode::Edge(&k))
            .state
            .unwrap()
    };
    assert_eq!(at(29).visits, 1);
    assert_eq!(at(29).session_views, 2);
    assert_eq!(at(31).visits, 2);
    assert_eq!(at(31).session_views, 1);
}

#[test]
fn cookie_size_budget() {
    let site = demo();
    let k = keys();
    // 16 dimensions and 8 recent items of the longest SKU: the typical budget is 600 bytes.
    let mut doc: serde_json::Value = serde_json::from_str(vitrine::config::DEMO_CONFIG).unwrap();
    for i in 0..9 {
        doc["dimensions"][format!("extra{i}")] =
            serde_json::json!({"half_life_hours": 24, "cap": 1000});
        doc["signals"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"on": "page_view", "add": {format!("extra{i}"): 1}}));
    }
    let big = vitrine::Config::from_json(&doc.to_string())
        .unwrap()
        .sites
        .remove(0);
    assert_eq!(big.dimensions.len(), 16);
    let mut s = VisitorState::fresh(&big, [0xab; 16], 1_763_805_600);
    s.visits = 1_000;
    s.session_views = 300;
    s.first_seen -= 25 * 86_400;
    for (i, score) in s.scores.iter_mut().enumerate() {
        *score = 9_000 + i as u32;
    }
    for i in 0..8 {
        s.remember(
            ItemKind::Viewed,
            &format!("{i}{}", "x".repeat(MAX_SKU_LEN - 1)),
            8,
        );
    }
    for c in &mut s.counters {
        *c = SlotCounter {
            session: 3,
            total: 300,
        };
    }
    let token = state::seal(&s, Protection::Signed(&k.state), &big);
    let cookie = format!("vt={token}");
    assert!(
        cookie.len() <= 600,
        "typical cookie is {} bytes",
        cookie.len()
    );
    assert_eq!(
        state::open(
            &[&token],
            Protection::Signed(&k.state),
            &big,
            s.last_seen,
            [0; 16]
        )
        .state,
        s
    );

    // Worst case (32 dimensions, 16 recent items, every counter): never more than 1,024 bytes,
    // and the oldest recent items are the ones dropped.
    let mut doc: serde_json::Value = serde_json::from_str(vitrine::config::DEMO_CONFIG).unwrap();
    doc["limits"] = serde_json::json!({"recent_items": 16});
    for i in 0..25 {
        doc["dimensions"][format!("d{i}")] =
            serde_json::json!({"half_life_hours": 24, "cap": 1000});
    }
    let huge = vitrine::Config::from_json(&doc.to_string())
        .unwrap()
        .sites
        .remove(0);
    let mut s = VisitorState::fresh(&huge, [0xcd; 16], 1_763_805_600);
    s.scores.iter_mut().for_each(|x| *x = 99_999);
    s.counters.iter_mut().for_each(|c| {
        *c = SlotCounter {
            session: 200,
            total: 60_000,
        }
    });
    for i in 0..16 {
        s.remember(
            ItemKind::Purchased,
            &format!("{i:02}{}", "y".repeat(MAX_SKU_LEN - 2)),
            16,
        );
    }
    let token = state::seal(&s, Protection::Signed(&k.state), &huge);
    assert!(
        format!("vt={token}").len() <= 1024,
        "worst case is {} bytes",
        token.len() + 3
    );
    let back = state::open(
        &[&token],
        Protection::Signed(&k.state),
        &huge,
        s.last_seen,
        [0; 16],
    )
    .state;
    assert!(back.recent.len() < 16);
    assert_eq!(
        back.recent[..],
        s.recent[..back.recent.len()],
        "newest items are kept"
    );
    let _ = site;
}

#[test]
fn bucketing_is_stable_and_balanced() {
    let id = [42u8; 16];
    assert_eq!(bucket(&id, "hero-holdout"), bucket(&id, "hero-holdout"));
    // 100,000 pseudo-random ids (SplitMix64, fixed seed): each arm within ±1 point of its weight.
    let mut x: u64 = 0x5eed;
    let mut next = || {
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let n = 100_000;
    let mut control = 0;
    let mut arms = [0u32; 3];
    for _ in 0..n {
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&next().to_le_bytes());
        id[8..].copy_from_slice(&next().to_le_bytes());
        if bucket(&id, "hero-holdout") < 1_000 {
            control += 1;
        }
        let b = bucket(&id, "slot:cta");
        arms[if b < 5_000 {
            0
        } else if b < 8_000 {
            1
        } else {
            2
        }] += 1;
    }
    let pct = |c: u32| f64::from(c) * 100.0 / f64::from(n);
    assert!(
        (pct(control) - 10.0).abs() <= 1.0,
        "control {}%",
        pct(control)
    );
    for (count, weight) in arms.iter().zip([50.0, 30.0, 20.0]) {
        assert!(
            (pct(*count) - weight).abs() <= 1.0,
            "arm {}% for weight {weight}",
            pct(*count)
        );
    }
}

/// The score a closed form gives: each addition `(at, hundredths)` decayed to `now`.
fn closed_form(additions: &[(u32, u32)], now: u32, half_life_secs: f64) -> f64 {
    additions
        .iter()
        .map(|&(at, v)| f64::from(v) * 2f64.powf(-f64::from(now - at) / half_life_secs))
        .sum()
}

/// One request through the cookie: decode, bring up to `now`, add `gain`, encode.
fn request(bytes: &[u8], site: &vitrine::Site, now: u32, dim: usize, gain: u32) -> Vec<u8> {
    let mut s = state::decode(bytes, site).unwrap();
    state::touch(&mut s, site, now);
    s.scores[dim] += gain;
    state::encode(&s, site)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Scores decay over elapsed time, whatever the request rate: after any schedule of
    /// requests (seconds to hours apart), the score is the closed form's within a hundredth
    /// (rounding happens once per addition, not once per request).
    #[test]
    fn decay_is_exact_over_any_request_schedule(
        gains in prop::collection::vec(100u32..3000, 1..4),
        gaps in prop::collection::vec(prop_oneof![1u32..120, 60u32..3600, 3600u32..86_400], 1..400),
        at_gain in prop::collection::vec(any::<prop::sample::Index>(), 0..3),
    ) {
        let site = demo();
        let dim = site.dimension_index("hiking").unwrap();
        let half_life = site.dimensions[dim].half_life_secs;
        let t0 = (T0 / 1000) as u32;
        let mut bytes = state::encode(&VisitorState::fresh(&site, [1; 16], t0), &site);
        let mut additions = Vec::new();
        let mut now = t0;
        for g in &gains {
            bytes = request(&bytes, &site, now, dim, *g);
            additions.push((now, *g));
        }
        let gain_steps: Vec<usize> = at_gain.iter().map(|i| i.index(gaps.len())).collect();
        for (step, gap) in gaps.iter().enumerate() {
            now += gap;
            let gain = if gain_steps.contains(&step) { 500 } else { 0 };
            bytes = request(&bytes, &site, now, dim, gain);
            if gain > 0 {
                additions.push((now, gain));
            }
        }
        let mut s = state::decode(&bytes, &site).unwrap();
        state::touch(&mut s, &site, now);
        let want = closed_form(&additions, now, half_life);
        // Each addition rounds once (≤ half a hundredth), the final decay once more.
        let tolerance = 0.5 * (additions.len() + 1) as f64;
        prop_assert!(
            (f64::from(s.scores[dim]) - want).abs() <= tolerance.max(1.0),
            "score {} hundredths, closed form {want:.2}", s.scores[dim]
        );
    }
}

#[test]
fn frequent_requests_still_decay_the_score() {
    // Three category views, then 2,880 requests one minute apart (48 h): a 72-hour half-life
    // leaves 30 × 2^(−48/72) ≈ 18.9 points.
    let site = demo();
    let k = keys();
    let hiking = site.dimension_index("hiking").unwrap();
    let mut urls = vec!["/c/hiking"; 3];
    urls.extend(std::iter::repeat_n("/", 2880));
    let steps = journey(&site, &k, &urls, "");
    let last = steps.last().unwrap().state.as_ref().unwrap();
    let t = |step: u32| step * 60;
    let want = closed_form(
        &[(t(0), 1000), (t(1), 1000), (t(2), 1000)],
        t(2882),
        site.dimensions[hiking].half_life_secs,
    );
    assert!(
        (f64::from(last.scores[hiking]) - want).abs() <= 1.0,
        "{} hundredths, want {want:.2}",
        last.scores[hiking]
    );
    assert!((last.points(hiking) - 18.9).abs() < 0.05);
}
