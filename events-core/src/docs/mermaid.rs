//! The lifecycle as a Mermaid `stateDiagram-v2`.

use crate::description::MediaTypeDescription;

/// The lifecycle as a Mermaid `stateDiagram-v2`: initial states from `[*]`, one line per
/// declared transition, states that end the lifecycle to `[*]`.
///
/// The same shape as the diagram `media_type!` puts on the state enum's rustdoc, built
/// from the description instead of the declaration.
pub fn state_diagram(description: &MediaTypeDescription) -> String {
    let mut out = String::from("stateDiagram-v2\n");
    for state in description.states.iter().filter(|s| s.initial) {
        out.push_str(&format!("    [*] --> {}\n", state.wire_name));
    }
    for (from, to) in description.transitions() {
        out.push_str(&format!("    {} --> {}\n", from.wire_name, to.wire_name));
    }
    for state in description
        .states
        .iter()
        .filter(|s| s.kind.ends_lifecycle())
    {
        out.push_str(&format!("    {} --> [*]\n", state.wire_name));
    }
    out
}
