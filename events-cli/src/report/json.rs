//! The JSON report: the same figures as the text and the page, and the zero counts too.

use serde_json::{json, Map, Value};

use events_core::ingest::ErrorKind;

use super::{kind_label, MapKey, MapReport, Report};

fn by_kind(counts: &[u64; 7]) -> Value {
    ErrorKind::ALL
        .iter()
        .map(|k| (k.as_str().to_owned(), json!(counts[k.index()])))
        .collect::<Map<String, Value>>()
        .into()
}

fn map_json(key: &MapKey, map: &MapReport) -> Value {
    let states: Map<String, Value> = map
        .media
        .states
        .iter()
        .zip(&map.reached)
        .map(|(state, n)| (state.wire_name.to_owned(), json!(n)))
        .collect();
    let funnel: Vec<Value> = map
        .media
        .states
        .iter()
        .enumerate()
        .map(|(i, state)| {
            json!({
                "state": state.wire_name,
                "kind": kind_label(state.kind).unwrap_or("open"),
                "reached": map.reached[i],
                "share": map.share(i),
            })
        })
        .collect();
    let conversions: Vec<Value> = map
        .conversions()
        .into_iter()
        .map(|c| json!({"from": c.from, "to": c.to, "actions": c.actions, "rate": c.rate}))
        .collect();
    json!({
        "media_type": map.media.wire_name,
        "action_map_id": key.action_map_id,
        "action_map_version": key.action_map_version,
        "actions": map.actions(),
        "events": map.events(),
        "states": states,
        "funnel": funnel,
        "conversions": conversions,
    })
}

impl Report {
    /// As JSON: the ingest counts; `media_types`, each with its totals; `action_maps`, in
    /// the same order as the text and the page (registry order, then most actions
    /// first), each with `states` (every state, in declaration order), `funnel` (the same
    /// with each state's kind and share of the map's actions) and `conversions` (every
    /// declared step whose source was reached, taken or not); and
    /// `rejected_unknown_media_type`, the rejected lines no media type can be given.
    pub fn to_json(&self) -> Value {
        let sections = self.sections();
        let media_types: Vec<Value> = sections
            .iter()
            .map(|s| {
                json!({
                    "media_type": s.media.wire_name,
                    "action_maps": s.maps.len(),
                    "actions": s.actions,
                    "events": s.events(),
                    "valid": s.valid,
                    "rejected": s.rejected(),
                    "rejected_by_kind": by_kind(&s.rejected_by_kind),
                })
            })
            .collect();
        let maps: Vec<Value> = sections
            .iter()
            .flat_map(|s| s.maps.iter().map(|(key, map)| map_json(key, map)))
            .collect();
        json!({
            "events": self.stats.events,
            "valid": self.stats.valid,
            "rejected": self.stats.rejected,
            "rejected_by_kind": by_kind(&self.stats.by_kind),
            "rejected_unknown_media_type": by_kind(&self.rejected_unknown_media),
            "media_types": media_types,
            "action_maps": maps,
        })
    }
}
