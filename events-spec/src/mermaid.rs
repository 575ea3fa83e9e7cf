//! The lifecycle as a Mermaid `stateDiagram-v2`.

/// One state, as the diagram needs it.
#[derive(Debug, Clone, Copy)]
pub struct DiagramState<'a> {
    /// The wire name, the diagram's name for the state.
    pub wire_name: &'a str,
    /// Whether a lifecycle may start here.
    pub initial: bool,
    /// Whether the lifecycle ends here (`terminal` or `end`).
    pub ends: bool,
    /// Indices of the states that may follow, in declaration order.
    pub next: &'a [usize],
}

/// The lifecycle as a Mermaid `stateDiagram-v2`: initial states from `[*]`, one line per
/// declared transition, states that end the lifecycle to `[*]`.
///
/// The macro puts it on the state enum's rustdoc and the runtime's documentation writes
/// it from the description, so the two diagrams are the same.
pub fn state_diagram(states: &[DiagramState<'_>]) -> String {
    let mut out = String::from("stateDiagram-v2\n");
    for state in states.iter().filter(|s| s.initial) {
        out.push_str(&format!("    [*] --> {}\n", state.wire_name));
    }
    for state in states {
        for &next in state.next {
            out.push_str(&format!(
                "    {} --> {}\n",
                state.wire_name, states[next].wire_name
            ));
        }
    }
    for state in states.iter().filter(|s| s.ends) {
        out.push_str(&format!("    {} --> [*]\n", state.wire_name));
    }
    out
}
