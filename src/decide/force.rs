//! QA forcing: `?vt-force=<slot>:<variant>` (several joined by `,`) shows the named variant of
//! a slot — or `origin`, or `reorder` for a grid — whatever the rules decided, where forcing is
//! allowed (the debug token at the edge, `?vt-debug` in browser-only mode). A forced slot is
//! marked as forced in the explain report and is never recorded as an exposure.

use super::*;

/// The query parameter.
pub const FORCE_PARAM: &str = "vt-force";

/// The variant `spec` forces on slot `name`, if it names the slot.
fn forced<'f>(spec: &'f str, name: &str) -> Option<&'f str> {
    spec.split(',')
        .filter_map(|pair| pair.split_once(':'))
        .find(|(slot, _)| slot.trim() == name)
        .map(|(_, variant)| variant.trim())
}

/// `decided` replaced by what `spec` forces on the slot (unchanged when it names another).
#[inline(never)]
pub(super) fn force<'s>(
    spec: &str,
    env: &Env<'_>,
    slot: &'s Slot,
    mut d: SlotDecision<'s>,
) -> SlotDecision<'s> {
    let Some(wanted) = forced(spec, &slot.name) else {
        return d;
    };
    let mut text = format!(
        "forced by ?{FORCE_PARAM}={}:{wanted} (QA; not recorded)",
        slot.name
    );
    let variant = slot.variants.iter().position(|v| v.id == wanted);
    match (&slot.rank, variant) {
        (Some(rank), _) if wanted == REORDER_VARIANT => {
            if !matches!(d.choice, Choice::Reorder(_)) {
                // Not decided for this visitor: ranked by nothing but the pins.
                d.choice = Choice::Reorder(RankPlan {
                    rank,
                    affinity: vec![0; rank.keys.len()],
                    suppressed: Vec::new(),
                });
            }
            d.would_show = Some(REORDER_VARIANT);
        }
        (None, Some(i)) => {
            let v = &slot.variants[i];
            d.choice = Choice::Variant(i);
            d.would_show = Some(v.id.as_str());
            d.content = v.html.as_ref().or(v.value.as_ref()).map(|t| t.render(env));
        }
        _ => {
            if wanted != "origin" {
                text.push_str(", which this slot does not have (it has: origin");
                match &slot.rank {
                    Some(_) => text.push_str(", reorder"),
                    None => slot.variants.iter().for_each(|v| {
                        text.push_str(", ");
                        text.push_str(&v.id);
                    }),
                }
                text.push(')');
            }
            text.push_str("; origin content");
            d.choice = Choice::Origin;
            d.would_show = None;
            d.content = None;
        }
    }
    text.push_str("; decided: ");
    text.push_str(&d.reason.text);
    d.reason = Reason {
        code: ReasonCode::Forced,
        text,
    };
    d.arm = None;
    d
}

#[cfg(test)]
mod tests {
    use super::forced;

    #[test]
    fn reads_the_pairs() {
        assert_eq!(forced("hero:hero-parka", "hero"), Some("hero-parka"));
        assert_eq!(forced("grid:reorder, hero:origin", "hero"), Some("origin"));
        assert_eq!(forced("grid:reorder", "hero"), None);
        assert_eq!(forced("hero", "hero"), None);
        assert_eq!(forced("", "hero"), None);
    }
}
