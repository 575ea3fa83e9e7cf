//! The lifecycle as a Mermaid `stateDiagram-v2`.

use events_spec::DiagramState;

use events_core::MediaTypeDescription;

/// The lifecycle as a Mermaid `stateDiagram-v2`: initial states from `[*]`, one line per
/// declared transition, states that end the lifecycle to `[*]`.
///
/// The same diagram `media_type!` puts on the state enum's rustdoc (one renderer,
/// `events_spec::state_diagram`), built from the description instead of the declaration.
pub fn state_diagram(description: &MediaTypeDescription) -> String {
    let states: Vec<DiagramState<'_>> = description
        .states
        .iter()
        .map(|state| DiagramState {
            wire_name: state.wire_name,
            initial: state.initial,
            ends: state.kind.ends_lifecycle(),
            next: state.next,
        })
        .collect();
    events_spec::state_diagram(&states)
}
