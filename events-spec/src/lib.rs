//! Facts of `webaction-events` that the `media_type!` macro (at compile time) and the
//! runtime `events-core` (when it reads events) must agree on, written once.
//!
//! A proc-macro crate can export nothing but macros, so these live in this small ordinary
//! crate both depend on: the documented fields, the rules for wire names, the "did you
//! mean" rule, and the lifecycle diagram. Use them through `webaction-events`; this crate
//! moves with `events-macros` and `events-core`.

#![warn(missing_docs)]

mod fields;
mod mermaid;
mod suggest;
mod topic;

pub use fields::{field_wire_name, DocumentedField, JsonType, DOCUMENTED_FIELDS};
pub use mermaid::{state_diagram, DiagramState};
pub use suggest::{closest, closest_index};
pub use topic::{wire_name_problem, ALL_STATES, TOPIC_SEPARATOR};
