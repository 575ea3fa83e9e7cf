//! The JSON Schema (draft 2020-12) of one media type's events.

use serde_json::{json, Map, Value};

use super::text::one_line;
use events_core::{FieldDescription, JsonType, MediaTypeDescription, StateDescription};

/// The draft the schemas declare.
pub(super) const DRAFT: &str = "https://json-schema.org/draft/2020-12/schema";

/// The JSON Schema of one event of this media type: the required fields, each field's
/// type (`format: uuid` for UUIDs; optional fields may be `null`, as the reader treats
/// `null` as absent), the states and their aliases, `actionMediaType` as a constant, and
/// each state's own required fields as an `if`/`then`. Other properties are allowed,
/// because events keep the fields they came with.
///
/// One difference with the reader remains: JSON Schema counts `3.0` as an integer (it
/// compares values, not how they are written), while the reader, like serde, refuses a
/// number written with a fraction where it expects an integer.
pub fn json_schema(d: &MediaTypeDescription) -> Value {
    let mut properties = Map::new();
    for field in d.all_fields() {
        let schema = match field.wire_name {
            "actionState" => json!({
                "type": "string",
                "enum": state_names(d.states.iter()),
            }),
            "actionMediaType" => json!({ "const": d.wire_name }),
            // The reader takes a version as a `u32`: say so, or the schema would pass
            // `-1` and `4294967296`, which the reader refuses.
            "actionMapVersion" => json!({
                "type": "integer",
                "minimum": 0,
                "maximum": u32::MAX,
            }),
            _ => field_schema(field, !field.required),
        };
        properties.insert(field.wire_name.to_owned(), described(schema, field.docs));
    }

    let required: Vec<&str> = d
        .all_fields()
        .filter(|f| f.required)
        .map(|f| f.wire_name)
        .collect();

    let per_state: Vec<Value> = d
        .states
        .iter()
        .filter(|s| !s.requires.is_empty())
        .map(|state| {
            let then_properties: Map<String, Value> = state
                .requires
                .iter()
                .filter_map(|name| d.field(name))
                .map(|field| (field.wire_name.to_owned(), field_schema(field, false)))
                .collect();
            json!({
                "if": {
                    "properties": { "actionState": { "enum": state_names([state]) } },
                    "required": ["actionState"],
                },
                "then": {
                    "required": state.requires,
                    "properties": then_properties,
                },
            })
        })
        .collect();

    let mut schema = Map::new();
    schema.insert("$schema".into(), DRAFT.into());
    schema.insert("title".into(), format!("{} event", d.wire_name).into());
    let docs = one_line(d.docs);
    if !docs.is_empty() {
        schema.insert("description".into(), docs.into());
    }
    schema.insert("type".into(), "object".into());
    schema.insert("required".into(), required.into());
    schema.insert("properties".into(), properties.into());
    schema.insert("additionalProperties".into(), true.into());
    if !per_state.is_empty() {
        schema.insert("allOf".into(), per_state.into());
    }
    schema.into()
}

/// Wire names and aliases, in declaration order.
fn state_names<'a>(states: impl IntoIterator<Item = &'a StateDescription>) -> Vec<&'a str> {
    states
        .into_iter()
        .flat_map(|s| std::iter::once(s.wire_name).chain(s.aliases.iter().copied()))
        .collect()
}

/// The lower-case name of a JSON type, as the catalog writes it.
pub(super) fn type_name(json_type: JsonType) -> &'static str {
    match json_type {
        JsonType::Uuid => "uuid",
        JsonType::String => "string",
        JsonType::Integer => "integer",
        JsonType::Number => "number",
        JsonType::Boolean => "boolean",
        JsonType::Array => "array",
        JsonType::Object => "object",
        JsonType::Any => "any",
    }
}

/// The schema of one field's value; `nullable` when `null` counts as absent.
fn field_schema(field: &FieldDescription, nullable: bool) -> Value {
    let base = match field.json_type {
        JsonType::Uuid => "string",
        JsonType::Any => {
            return if nullable {
                json!({})
            } else {
                json!({ "not": { "type": "null" } })
            };
        }
        other => type_name(other),
    };
    let mut schema = Map::new();
    schema.insert(
        "type".into(),
        if nullable {
            json!([base, "null"])
        } else {
            json!(base)
        },
    );
    if field.json_type == JsonType::Uuid {
        schema.insert("format".into(), "uuid".into());
    }
    schema.into()
}

/// `schema` with the field's docs as its `description`, first.
fn described(schema: Value, docs: &str) -> Value {
    let docs = one_line(docs);
    if docs.is_empty() {
        return schema;
    }
    let mut out = Map::new();
    out.insert("description".into(), docs.into());
    if let Value::Object(rest) = schema {
        out.extend(rest);
    }
    out.into()
}
