//! Stage 3: every rule a declaration must follow. Each rule reports on the token that
//! breaks it, and all of them run, so one build shows every mistake.

use std::collections::HashMap;

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::LitStr;

use crate::diagnostics::{did_you_mean, Diagnostics};
use crate::model::{self, Kind, Model, DOCUMENTED_FIELDS, EXTRA_FIELD, RESERVED_VERBS};
use crate::parse::{Declaration, Flag, StateDecl};

/// The most states a media type may have: transition tables are one `u64` per state.
const MAX_STATES: usize = 64;

pub(crate) fn validate(declaration: &Declaration, model: &Model, diagnostics: &mut Diagnostics) {
    sections(declaration, diagnostics);
    attributes(declaration, diagnostics);
    media_type_wire_name(&declaration.wire_name, diagnostics);
    let states: Vec<&StateDecl> = declaration.states.iter().flat_map(|(_, s)| s).collect();
    let mut references_ok = state_names(&states, diagnostics);
    for state in &states {
        flags(state, diagnostics);
        state_wire_name(&state.wire_name, "state", diagnostics);
        references_ok &= transitions(state, &states, diagnostics);
        requirements(state, model, diagnostics);
    }
    aliases(&states, diagnostics);
    verbs(model, diagnostics);
    fields(declaration, diagnostics);
    if states.len() > MAX_STATES {
        diagnostics.error(
            states[MAX_STATES].name.span(),
            format_args!("a media type has at most {MAX_STATES} states"),
        );
    }
    // The graph rules judge the graph as declared; with a dangling or duplicate reference
    // they would only repeat that error in other words.
    if references_ok && !states.is_empty() {
        graph(declaration, model, diagnostics);
    }
}

fn sections(declaration: &Declaration, diagnostics: &mut Diagnostics) {
    let mut repeated = |spans: Vec<Span>, what: &str| {
        if let [first, rest @ ..] = spans.as_slice() {
            for second in rest {
                diagnostics.duplicate(*second, *first, format_args!("the `{what}` section"));
            }
        }
    };
    repeated(
        declaration.states.iter().map(|(kw, _)| kw.span).collect(),
        "states",
    );
    repeated(
        declaration.fields.iter().map(|(kw, _)| kw.span).collect(),
        "fields",
    );
    repeated(
        declaration.versions.iter().map(|(kw, _)| kw.span).collect(),
        "version",
    );
    for (_, version) in &declaration.versions {
        if let Err(error) = version.base10_parse::<u32>() {
            diagnostics.error(
                version.span(),
                format_args!("the version must be a whole number: {error}"),
            );
        }
    }
    if declaration.states.is_empty() {
        diagnostics.error(
            declaration.name.span(),
            "a media type needs a `states { ... }` section with at least one initial state",
        );
    }
}

/// Rule: only doc comments stand on the declaration, its states and its fields. Any other
/// attribute (`#[serde(...)]`, `#[cfg(...)]`) would be dropped by the expansion, silently.
fn attributes(declaration: &Declaration, diagnostics: &mut Diagnostics) {
    let states = declaration
        .states
        .iter()
        .flat_map(|(_, s)| s)
        .map(|s| &s.attrs);
    let fields = declaration
        .fields
        .iter()
        .flat_map(|(_, f)| f)
        .map(|f| &f.attrs);
    let all = std::iter::once(&declaration.attrs)
        .chain(states)
        .chain(fields);
    for attr in all.flatten().filter(|a| !a.path().is_ident("doc")) {
        diagnostics.push(syn::Error::new_spanned(
            attr,
            "only doc comments (`///`) are supported here; the declaration is the whole spec, so other attributes would be ignored",
        ));
    }
}

fn media_type_wire_name(wire: &LitStr, diagnostics: &mut Diagnostics) {
    let value = wire.value();
    if let Some(problem) = wire_name_problem(&value) {
        diagnostics.error(
            wire.span(),
            format_args!("media type wire name `{value}` {problem}"),
        );
    }
}

fn state_wire_name(wire: &LitStr, what: &str, diagnostics: &mut Diagnostics) {
    let value = wire.value();
    if let Some(problem) = wire_name_problem(&value) {
        diagnostics.error(
            wire.span(),
            format_args!("{what} wire name `{value}` {problem}"),
        );
    } else if value == "all" {
        diagnostics.error(
            wire.span(),
            format_args!("{what} wire name `all` is reserved for the `<mediaType>:all` topic"),
        );
    }
}

/// Why a wire name cannot appear in a topic `"<mediaType>:<state>"`.
fn wire_name_problem(value: &str) -> Option<&'static str> {
    if value.is_empty() {
        Some("is empty")
    } else if value.contains(':') {
        Some("contains `:`, which separates media type and state in a topic")
    } else if value.chars().any(char::is_whitespace) {
        Some("contains whitespace (spellings with spaces belong in `aliases`)")
    } else {
        None
    }
}

/// Rule: no state is declared twice, by Rust name or by wire name. Returns whether none was.
fn state_names(states: &[&StateDecl], diagnostics: &mut Diagnostics) -> bool {
    let mut ok = true;
    let mut by_name: HashMap<String, Span> = HashMap::new();
    let mut by_wire: HashMap<String, Span> = HashMap::new();
    for state in states {
        let name = state.name.to_string();
        if let Some(first) = by_name.get(&name) {
            diagnostics.duplicate(state.name.span(), *first, format_args!("state `{name}`"));
            ok = false;
        } else {
            by_name.insert(name, state.name.span());
        }
        let wire = state.wire_name.value();
        if let Some(first) = by_wire.get(&wire) {
            diagnostics.duplicate(
                state.wire_name.span(),
                *first,
                format_args!("state wire name `{wire}`"),
            );
            ok = false;
        } else {
            by_wire.insert(wire, state.wire_name.span());
        }
    }
    ok
}

fn flags(state: &StateDecl, diagnostics: &mut Diagnostics) {
    let mut seen: Vec<(&str, Span)> = Vec::new();
    for flag in &state.flags {
        let name = match flag {
            Flag::Initial(_) => "initial",
            Flag::Terminal(_) => "terminal",
            Flag::End(_) => "end",
        };
        if let Some((_, first)) = seen.iter().find(|(n, _)| *n == name) {
            diagnostics.duplicate(flag.span(), *first, format_args!("flag `{name}`"));
        }
        seen.push((name, flag.span()));
    }
    let terminal = state.flags.iter().find(|f| matches!(f, Flag::Terminal(_)));
    let end = state.flags.iter().find(|f| matches!(f, Flag::End(_)));
    if let (Some(_), Some(end)) = (terminal, end) {
        diagnostics.error(
            end.span(),
            "a state is `terminal` (ends the lifecycle, no re-offer) or `end` (ends it without being terminal), not both",
        );
    }
    if let (Some(arrow), Some(flag)) = (&state.arrow, terminal.or(end)) {
        let kind = if matches!(flag, Flag::Terminal(_)) {
            "terminal"
        } else {
            "end"
        };
        diagnostics.error(
            arrow.span(),
            format_args!(
                "state `{}` is `{kind}`, so no state may follow it; remove the `-> ...` or the `{kind}` flag",
                state.name
            ),
        );
    }
}

/// Rules: a transition names a declared state, and names it once. Returns whether every
/// transition resolved.
fn transitions(state: &StateDecl, states: &[&StateDecl], diagnostics: &mut Diagnostics) -> bool {
    let mut ok = true;
    let mut seen: HashMap<String, Span> = HashMap::new();
    for target in &state.next {
        let name = target.to_string();
        if !states.iter().any(|s| s.name == *target) {
            let names: Vec<String> = states.iter().map(|s| s.name.to_string()).collect();
            let hint = did_you_mean(&name, names.iter().map(String::as_str));
            diagnostics.error(
                target.span(),
                format_args!(
                    "unknown state `{name}` in the transitions of `{}`{hint}",
                    state.name
                ),
            );
            ok = false;
        }
        if let Some(first) = seen.get(&name) {
            diagnostics.duplicate(
                target.span(),
                *first,
                format_args!("transition `{} -> {name}`", state.name),
            );
            ok = false;
        } else {
            seen.insert(name, target.span());
        }
    }
    ok
}

fn requirements(state: &StateDecl, model: &Model, diagnostics: &mut Diagnostics) {
    for name in &state.requires {
        if model::resolve_requirement(name, &model.fields).is_some() {
            continue;
        }
        let text = name.to_string();
        let is_always_present = DOCUMENTED_FIELDS.iter().any(|(rust, _)| *rust == text);
        if is_always_present {
            diagnostics.error(
                name.span(),
                format_args!("`{text}` is carried by every event; `requires` names optional fields (`error_code`, `error_message` or a declared field)"),
            );
            continue;
        }
        let candidates: Vec<String> = model
            .fields
            .iter()
            .map(|f| f.name.to_string())
            .chain(["error_code".to_owned(), "error_message".to_owned()])
            .collect();
        let hint = did_you_mean(&text, candidates.iter().map(String::as_str));
        diagnostics.error(
            name.span(),
            format_args!("`requires` names unknown field `{text}`; expected `error_code`, `error_message` or a field declared in `fields`{hint}"),
        );
    }
}

/// Rule: an alias is no other state's wire name or alias (nor its own state's wire name).
fn aliases(states: &[&StateDecl], diagnostics: &mut Diagnostics) {
    let mut taken: HashMap<String, (Span, String)> = states
        .iter()
        .map(|s| {
            (
                s.wire_name.value(),
                (s.wire_name.span(), s.name.to_string()),
            )
        })
        .collect();
    for state in states {
        for alias in &state.aliases {
            let value = alias.value();
            if let Some((first, owner)) = taken.get(&value) {
                let whose = if state.name == *owner {
                    "this state's".to_owned()
                } else {
                    format!("state `{owner}`'s")
                };
                diagnostics.error(
                    alias.span(),
                    format_args!("alias `{value}` is already {whose} wire name or alias"),
                );
                diagnostics.error(
                    *first,
                    format_args!("note: `{value}` is first declared here"),
                );
                continue;
            }
            if value.is_empty() || value.contains(':') || value == "all" {
                diagnostics.error(
                    alias.span(),
                    format_args!(
                        "alias `{value}` cannot be part of a topic (empty, contains `:`, or `all`)"
                    ),
                );
            }
            taken.insert(value, (alias.span(), state.name.to_string()));
        }
    }
}

/// Rule: each state's typestate method (`verb`, or its snake_case name) is a usable,
/// unique method name.
fn verbs(model: &Model, diagnostics: &mut Diagnostics) {
    let mut seen: HashMap<String, Span> = HashMap::new();
    for state in &model.states {
        let verb = state.verb.to_string();
        if syn::parse_str::<syn::Ident>(&verb).is_err() {
            diagnostics.error(
                state.verb.span(),
                format_args!("the method into state `{}` would be `{verb}`, a keyword; name it with `verb ...`", state.name),
            );
        } else if RESERVED_VERBS.contains(&verb.as_str()) {
            diagnostics.error(
                state.verb.span(),
                format_args!("the method into state `{}` would be `{verb}`, which the generated code already defines; name it with `verb ...`", state.name),
            );
        }
        if let Some(first) = seen.get(&verb) {
            diagnostics.duplicate(state.verb.span(), *first, format_args!("method `{verb}`"));
        } else {
            seen.insert(verb, state.verb.span());
        }
    }
}

/// Rules: a field is declared once, and neither its Rust nor its wire name is a documented
/// field's.
fn fields(declaration: &Declaration, diagnostics: &mut Diagnostics) {
    let mut by_name: HashMap<String, Span> = HashMap::new();
    let mut by_wire: HashMap<String, Span> = HashMap::new();
    for field in declaration.fields.iter().flat_map(|(_, f)| f) {
        let name = field.name.to_string();
        let wire = model::wire_name_of(field);
        if let Some((rust, documented)) = DOCUMENTED_FIELDS
            .iter()
            .find(|(r, w)| *r == name || *w == wire)
        {
            diagnostics.error(
                model::wire_span(field),
                format_args!("field `{name}` (`{wire}`) collides with the documented field `{rust}` (`{documented}`), which every event already has"),
            );
            continue;
        }
        if name == EXTRA_FIELD {
            diagnostics.error(
                field.name.span(),
                "`extra` is the event's map of unknown fields; choose another name",
            );
        }
        if let Some(first) = by_name.get(&name) {
            diagnostics.duplicate(field.name.span(), *first, format_args!("field `{name}`"));
        } else {
            by_name.insert(name, field.name.span());
        }
        if let Some(first) = by_wire.get(&wire) {
            diagnostics.duplicate(
                model::wire_span(field),
                *first,
                format_args!("field wire name `{wire}`"),
            );
        } else {
            by_wire.insert(wire.clone(), model::wire_span(field));
        }
        if wire.is_empty() {
            diagnostics.error(
                model::wire_span(field),
                "a field's wire name cannot be empty",
            );
        }
    }
}

/// Rules on the lifecycle graph: an initial state exists, every state is reachable from
/// one, no open state is a dead end, and from every state some ending state is reachable.
fn graph(declaration: &Declaration, model: &Model, diagnostics: &mut Diagnostics) {
    let states = &model.states;
    if !states.iter().any(|s| s.initial) {
        diagnostics.error(
            declaration.name.span(),
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
    for (i, state) in states.iter().enumerate() {
        if !reachable[i] {
            diagnostics.error(
                state.name.span(),
                format_args!("state `{}` is unreachable: no initial state leads to it; add a transition to it or mark it `initial`", state.name),
            );
        }
        if state.kind == Kind::Open && state.next.is_empty() {
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
            .filter(|(_, s)| s.kind.ends())
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
    use crate::model::Model;
    use crate::parse::Declaration;

    /// Every message validation reports for `states` (and `fields`) of one declaration.
    fn messages(body: &str) -> Vec<String> {
        let source = format!("/// Docs.\npub Poll = \"poll\" {{ {body} }}");
        let mut declaration: Declaration =
            syn::parse_str(&source).unwrap_or_else(|e| panic!("{source}: {e}"));
        let mut diagnostics = std::mem::take(&mut declaration.diagnostics);
        let model = Model::build(&declaration);
        super::validate(&declaration, &model, &mut diagnostics);
        diagnostics
            .into_error()
            .map_or_else(Vec::new, |e| e.into_iter().map(|e| e.to_string()).collect())
    }

    #[test]
    fn a_valid_declaration_has_no_errors() {
        let body = r#"states {
            initial Shown = "shown" (aliases "displayed") -> Answered | Failed,
            terminal Answered = "answered" (requires answer),
            end Failed = "failed" (requires error_message),
        }
        fields { answer: Option<String> }"#;
        assert_eq!(messages(body), Vec::<String>::new());
    }

    #[test]
    fn each_rule_reports_its_own_message() {
        let cases: &[(&str, &str)] = &[
            (
                r#"states { initial A = "a" -> B, terminal C = "c" }"#,
                "unknown state `B` in the transitions of `A`",
            ),
            (
                r#"states { initial A = "a" -> C | C, terminal C = "c" }"#,
                "transition `A -> C` is declared twice",
            ),
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
                r#"states { initial A = "a" -> C, terminal C = "c" -> A }"#,
                "state `C` is `terminal`, so no state may follow it",
            ),
            (
                r#"states { initial A = "a" -> B | C, B = "b" -> B, terminal C = "c" }"#,
                "no `terminal` or `end` state can be reached from state `B`",
            ),
            (
                r#"states { initial A = "all" -> C, terminal C = "c" }"#,
                "reserved for the `<mediaType>:all` topic",
            ),
            (
                r#"states { initial A = "a" (aliases "c") -> C, terminal C = "c" }"#,
                "alias `c` is already state `C`'s wire name",
            ),
            (
                r#"states { initial A = "a" -> C, terminal C = "c" (requires nope) }"#,
                "`requires` names unknown field `nope`",
            ),
            (
                r#"states { initial A = "a" -> C, terminal C = "c" } fields { x: u8, x: u8 }"#,
                "field `x` is declared twice",
            ),
            (
                r#"states { initial A = "a" -> C, terminal C = "c" } fields { id: u8 = "actionId" }"#,
                "collides with the documented field `action_id`",
            ),
            (
                r#"states { initial A = "a" -> C, terminal C = "c" } states { terminal D = "d" }"#,
                "the `states` section is declared twice",
            ),
            (r#"fields { x: u8 }"#, "needs a `states { ... }` section"),
            (
                r#"states { initial A = "a" -> C, terminal C = "c" (verb state) }"#,
                "which the generated code already defines",
            ),
        ];
        for (body, expected) in cases {
            let found = messages(body);
            assert!(
                found.iter().any(|m| m.contains(expected)),
                "{body}\nexpected: {expected}\nfound: {found:#?}"
            );
        }
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
