//! Stage 3: the rules of the lifecycle graph the model resolved. Each rule reports on the
//! state that breaks it, and all of them run, so one build shows every mistake. (The rules
//! of the declaration itself, names and references, are decided where the model is built.)

use crate::diagnostics::Diagnostics;
use crate::model::{Kind, Model};

pub(crate) fn validate(model: &Model, diagnostics: &mut Diagnostics) {
    // The graph rules judge the graph as declared; with a dangling or duplicate reference
    // they would only repeat that error in other words.
    if model.graph_is_whole && !model.states.is_empty() {
        graph(model, diagnostics);
    }
}

/// Rules on the lifecycle graph: an initial state exists, every state is reachable from
/// one, no open state is a dead end, and from every state some ending state is reachable.
fn graph(model: &Model, diagnostics: &mut Diagnostics) {
    let states = &model.states;
    if !states.iter().any(|s| s.initial) {
        diagnostics.error(
            model.name.span(),
            format_args!(
                "media type `{}` has no initial state; mark the state a lifecycle starts in with `initial` (e.g. `initial {} = \"{}\"`)",
                model.name, states[0].name, states[0].wire_name
            ),
        );
        return;
    }
    let reachable = closure(
        states.len(),
        states
            .iter()
            .enumerate()
            .filter(|(_, s)| s.initial)
            .map(|(i, _)| i),
        |i| &states[i].next,
    );
    // A reachable dead end is most likely a missing `-> ...`: the states only it would
    // lead to are not reported unreachable as well.
    let dead_end = |s: &crate::model::State| s.kind == Kind::Open && s.next.is_empty();
    let missing_arrow = states
        .iter()
        .zip(&reachable)
        .any(|(s, &reached)| reached && dead_end(s));
    for (i, state) in states.iter().enumerate() {
        if !reachable[i] && !missing_arrow {
            diagnostics.error(
                state.name.span(),
                format_args!("state `{}` is unreachable: no initial state leads to it; add a transition to it or mark it `initial`", state.name),
            );
        }
        if dead_end(state) {
            diagnostics.error(
                state.name.span(),
                format_args!("state `{}` is a dead end: it has no next state but is neither `terminal` nor `end`", state.name),
            );
        }
    }
    // Which states can reach an ending state: walk the graph backwards from the endings.
    let mut predecessors: Vec<Vec<usize>> = vec![Vec::new(); states.len()];
    for (from, state) in states.iter().enumerate() {
        for &to in &state.next {
            predecessors[to].push(from);
        }
    }
    let can_end = closure(
        states.len(),
        states
            .iter()
            .enumerate()
            // A dead end is reported as such; what leads to it is not reported again.
            .filter(|(_, s)| s.kind.ends() || dead_end(s))
            .map(|(i, _)| i),
        |i| &predecessors[i],
    );
    for (i, state) in states.iter().enumerate() {
        // A dead end is reported above; this rule is for loops with no way out.
        if !can_end[i] && !state.next.is_empty() {
            diagnostics.error(
                state.name.span(),
                format_args!("no `terminal` or `end` state can be reached from state `{}`: its lifecycle never ends", state.name),
            );
        }
    }
}

/// The states reachable from `start` along `edges`, as a membership table.
fn closure<'a>(
    len: usize,
    start: impl Iterator<Item = usize>,
    edges: impl Fn(usize) -> &'a Vec<usize>,
) -> Vec<bool> {
    let mut seen = vec![false; len];
    let mut stack: Vec<usize> = start.collect();
    while let Some(i) = stack.pop() {
        if !seen[i] {
            seen[i] = true;
            stack.extend(edges(i).iter().copied());
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use crate::{assert_each_reported, messages};

    #[test]
    fn each_graph_rule_reports_its_own_message() {
        let cases: &[(&str, &str)] = &[
            (
                r#"states { A = "a" -> C, terminal C = "c" }"#,
                "has no initial state",
            ),
            (
                r#"states { initial A = "a" -> C, terminal C = "c", terminal D = "d" }"#,
                "state `D` is unreachable",
            ),
            (
                r#"states { initial A = "a" -> B | C, B = "b", terminal C = "c" }"#,
                "state `B` is a dead end",
            ),
            (
                r#"states { initial A = "a" -> B | C, B = "b" -> B, terminal C = "c" }"#,
                "no `terminal` or `end` state can be reached from state `B`",
            ),
        ];
        assert_each_reported(cases);
    }

    #[test]
    fn a_missing_arrow_is_one_dead_end_not_also_unreachable_states() {
        let found =
            messages(r#"states { initial A = "a" -> B, B = "b", C = "c" -> D, terminal D = "d" }"#);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(found[0].contains("state `B` is a dead end"));
    }

    #[test]
    fn graph_rules_stay_quiet_after_a_dangling_reference() {
        // `Acepted` is a typo: reporting `Accepted` unreachable too would be a follow-on.
        let found =
            messages(r#"states { initial A = "a" -> Acepted, terminal Accepted = "accepted" }"#);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(found[0].contains("did you mean `Accepted`?"));
    }
}
