//! The static description of a media type declaration.
//!
//! Everything a `media_type!` declaration says is kept here, in `'static` data, so that
//! documentation, schemas, diagrams and the ingest registry can be generated from the
//! description alone, without looking at the Rust types.

pub use events_spec::JsonType;

/// Everything one `media_type!` declaration says, as static data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaTypeDescription {
    /// The Rust name of the state enum, e.g. `WebChat`.
    pub rust_name: &'static str,
    /// The wire name, the `actionMediaType` value, e.g. `webchat`.
    pub wire_name: &'static str,
    /// The declaration's doc comment.
    pub docs: &'static str,
    /// The declaration's version (`version = N;`, 1 when not declared).
    pub version: u32,
    /// The states, in declaration order; a state's index is its position here.
    pub states: &'static [StateDescription],
    /// The fields this media type declares beyond the [`DOCUMENTED_FIELDS`].
    pub fields: &'static [FieldDescription],
}

impl MediaTypeDescription {
    /// The state with this wire name or alias.
    pub fn state(&self, wire_name_or_alias: &str) -> Option<&'static StateDescription> {
        self.states
            .iter()
            .find(|state| state.accepts(wire_name_or_alias))
    }

    /// Every field an event of this media type may carry: the ten documented fields, then
    /// the declared ones.
    pub fn all_fields(&self) -> impl Iterator<Item = &'static FieldDescription> {
        DOCUMENTED_FIELDS.iter().chain(self.fields.iter())
    }

    /// The field with this wire name, documented or declared.
    pub fn field(&self, wire_name: &str) -> Option<&'static FieldDescription> {
        self.all_fields().find(|field| field.wire_name == wire_name)
    }

    /// Every declared transition as `(from, to)` pairs of states.
    pub fn transitions(
        &self,
    ) -> impl Iterator<Item = (&'static StateDescription, &'static StateDescription)> {
        let states = self.states;
        states
            .iter()
            .flat_map(move |from| from.next.iter().map(move |&to| (from, &states[to])))
    }
}

/// One state of a media type's lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateDescription {
    /// The Rust name of the enum variant, e.g. `TimedOut`.
    pub rust_name: &'static str,
    /// The wire name, the `actionState` value written out, e.g. `timedout`.
    pub wire_name: &'static str,
    /// Other spellings accepted on input, e.g. `timed out`.
    pub aliases: &'static [&'static str],
    /// The state's doc comment.
    pub docs: &'static str,
    /// Whether an action's lifecycle may start in this state.
    pub initial: bool,
    /// Whether the lifecycle ends here, and how.
    pub kind: StateKind,
    /// Indices (into [`MediaTypeDescription::states`]) of the states that may follow.
    pub next: &'static [usize],
    /// Wire names of the fields an event in this state must carry.
    pub requires: &'static [&'static str],
}

impl StateDescription {
    /// Whether `name` is this state's wire name or one of its aliases.
    pub fn accepts(&self, name: &str) -> bool {
        self.wire_name == name || self.aliases.contains(&name)
    }
}

/// How a state stands in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StateKind {
    /// Other states may follow.
    Open,
    /// Terminal in the vendor's sense: nothing follows, and the same action map does not
    /// offer the same thing to that visitor again.
    Terminal,
    /// Nothing follows, but the state is not terminal in the vendor's sense (`errored`).
    End,
}

impl StateKind {
    /// Whether no event follows a state of this kind.
    pub const fn ends_lifecycle(self) -> bool {
        !matches!(self, StateKind::Open)
    }
}

/// One field of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldDescription {
    /// The Rust name of the event struct's field, e.g. `conversation_id`.
    pub rust_name: &'static str,
    /// The JSON key, e.g. `conversationId`.
    pub wire_name: &'static str,
    /// The field's doc comment.
    pub docs: &'static str,
    /// The field's JSON type.
    pub json_type: JsonType,
    /// Whether every event carries it (`false` for `Option` fields).
    pub required: bool,
    /// Whether it is one of the ten fields the vendor documents.
    pub documented: bool,
}

/// The ten fields the vendor documents for every web-action event, in wire order.
pub const DOCUMENTED_FIELDS: &[FieldDescription] = &documented_fields();

/// [`events_spec::DOCUMENTED_FIELDS`] as field descriptions, in `const` so that the table
/// stays `'static` data.
const fn documented_fields() -> [FieldDescription; events_spec::DOCUMENTED_FIELDS.len()] {
    const UNSET: FieldDescription = FieldDescription {
        rust_name: "",
        wire_name: "",
        docs: "",
        json_type: JsonType::Any,
        required: false,
        documented: true,
    };
    let mut out = [UNSET; events_spec::DOCUMENTED_FIELDS.len()];
    let mut i = 0;
    while i < out.len() {
        let field = &events_spec::DOCUMENTED_FIELDS[i];
        out[i] = FieldDescription {
            rust_name: field.rust_name,
            wire_name: field.wire_name,
            docs: field.docs,
            json_type: field.json_type,
            required: field.required,
            documented: true,
        };
        i += 1;
    }
    out
}
