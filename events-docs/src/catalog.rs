//! `catalog.json`: every media type with its states, transitions and fields, for tools.

use serde_json::{json, Value};

use super::markdown::event_type_name;
use super::schema::type_name;
use super::text::one_line;
use super::{page_file, schema_file};
use events_core::{MediaTypeDescription, StateKind};

/// Every media type, in the given order, with its states (wire name, aliases, flags, next
/// states, required fields, topic), its transitions, its fields (the documented ones
/// first) and its topics. Docs are flattened to one line.
pub fn catalog(descriptions: &[&MediaTypeDescription]) -> Value {
    json!({
        "mediaTypes": descriptions.iter().map(|d| media_type(d)).collect::<Vec<_>>(),
    })
}

fn media_type(d: &MediaTypeDescription) -> Value {
    let states: Vec<Value> = d
        .states
        .iter()
        .map(|state| {
            json!({
                "state": state.wire_name,
                "rustName": state.rust_name,
                "aliases": state.aliases,
                "description": one_line(state.docs),
                "initial": state.initial,
                "kind": match state.kind {
                    StateKind::Open => "open",
                    StateKind::Terminal => "terminal",
                    StateKind::End => "end",
                },
                "next": state.next.iter().map(|&i| d.states[i].wire_name).collect::<Vec<_>>(),
                "requires": state.requires,
                "topic": format!("{}:{}", d.wire_name, state.wire_name),
            })
        })
        .collect();
    let transitions: Vec<Value> = d
        .transitions()
        .map(|(from, to)| json!({ "from": from.wire_name, "to": to.wire_name }))
        .collect();
    let fields: Vec<Value> = d
        .all_fields()
        .map(|field| {
            json!({
                "field": field.wire_name,
                "rustName": field.rust_name,
                "type": type_name(field.json_type),
                "vendorType": field.json_type.vendor_name(),
                "required": field.required,
                "requiredInStates": d
                    .states
                    .iter()
                    .filter(|s| s.requires.contains(&field.wire_name))
                    .map(|s| s.wire_name)
                    .collect::<Vec<_>>(),
                "documented": field.documented,
                "description": one_line(field.docs),
            })
        })
        .collect();
    let topics: Vec<String> = d
        .states
        .iter()
        .map(|s| s.wire_name)
        .chain([events_spec::ALL_STATES])
        .map(|state| format!("{}:{state}", d.wire_name))
        .collect();
    json!({
        "mediaType": d.wire_name,
        "rustName": d.rust_name,
        "eventRustName": event_type_name(d),
        "version": d.version,
        "description": one_line(d.docs),
        "page": page_file(d),
        "schema": schema_file(d),
        "states": states,
        "transitions": transitions,
        "fields": fields,
        "topics": topics,
    })
}
