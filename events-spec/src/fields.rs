//! The fields every event carries, and how a declared field gets its wire name.

/// The JSON type of a field, as schemas and documentation need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JsonType {
    /// A UUID (version 4 in the vendor's events), written as a string.
    Uuid,
    /// A string.
    String,
    /// An integer.
    Integer,
    /// A number that may have a fraction.
    Number,
    /// `true` or `false`.
    Boolean,
    /// An array.
    Array,
    /// An object.
    Object,
    /// Any JSON value (a type the declaration does not map to one of the above).
    Any,
}

impl JsonType {
    /// The type as the vendor's documentation writes it: `UUIDv4`, `String`, `Integer`, ...
    pub const fn vendor_name(self) -> &'static str {
        match self {
            JsonType::Uuid => "UUIDv4",
            JsonType::String => "String",
            JsonType::Integer => "Integer",
            JsonType::Number => "Number",
            JsonType::Boolean => "Boolean",
            JsonType::Array => "Array",
            JsonType::Object => "Object",
            JsonType::Any => "Any",
        }
    }
}

/// One of the fields the vendor documents for every web-action event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocumentedField {
    /// The Rust name of the event struct's field, e.g. `action_id`.
    pub rust_name: &'static str,
    /// The JSON key, e.g. `actionId`.
    pub wire_name: &'static str,
    /// The field's JSON type.
    pub json_type: JsonType,
    /// Whether every event carries it; `requires` may name only the others.
    pub required: bool,
    /// What the field means.
    pub docs: &'static str,
}

/// The ten fields the vendor documents for every web-action event, in wire order. No
/// declared field may take the Rust or the wire name of one.
pub const DOCUMENTED_FIELDS: &[DocumentedField] = &[
    DocumentedField {
        rust_name: "action_id",
        wire_name: "actionId",
        json_type: JsonType::Uuid,
        required: true,
        docs: "This action: one offer to one visitor.",
    },
    DocumentedField {
        rust_name: "action_state",
        wire_name: "actionState",
        json_type: JsonType::String,
        required: true,
        docs: "The state this event reports, e.g. `offered`.",
    },
    DocumentedField {
        rust_name: "action_media_type",
        wire_name: "actionMediaType",
        json_type: JsonType::String,
        required: true,
        docs: "The media type, e.g. `webchat`.",
    },
    DocumentedField {
        rust_name: "action_map_id",
        wire_name: "actionMapId",
        json_type: JsonType::Uuid,
        required: true,
        docs: "The action map that qualified or triggered the action.",
    },
    DocumentedField {
        rust_name: "action_map_version",
        wire_name: "actionMapVersion",
        json_type: JsonType::Integer,
        required: true,
        docs: "The version of that action map.",
    },
    DocumentedField {
        rust_name: "customer_id",
        wire_name: "customerId",
        json_type: JsonType::Uuid,
        required: true,
        docs: "The stable visitor id (a cookie id).",
    },
    DocumentedField {
        rust_name: "customer_id_type",
        wire_name: "customerIdType",
        json_type: JsonType::String,
        required: true,
        docs: "The kind of customer id; always `cookie` today.",
    },
    DocumentedField {
        rust_name: "session_id",
        wire_name: "sessionId",
        json_type: JsonType::Uuid,
        required: true,
        docs: "The visitor's current web session.",
    },
    DocumentedField {
        rust_name: "error_code",
        wire_name: "errorCode",
        json_type: JsonType::Integer,
        required: false,
        docs: "The status code of an exception caught while presenting the action.",
    },
    DocumentedField {
        rust_name: "error_message",
        wire_name: "errorMessage",
        json_type: JsonType::String,
        required: false,
        docs: "The message of that exception; documented as present in `errored`.",
    },
];

/// The wire name of a declared field that names none: its Rust name in lowerCamelCase,
/// without a raw identifier's `r#` (`page_url` → `pageUrl`).
pub fn field_wire_name(rust_name: &str) -> String {
    let mut camel = String::with_capacity(rust_name.len());
    let mut upper = false;
    for c in rust_name.trim_start_matches("r#").chars() {
        if c == '_' {
            upper = !camel.is_empty();
        } else if upper {
            camel.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            camel.push(c);
        }
    }
    camel
}
