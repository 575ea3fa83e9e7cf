//! The states of the model, and the declaration rules about states, transitions, aliases
//! and typestate methods.

use std::collections::HashMap;

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Attribute, Ident};

use events_spec::{ALL_STATES, DOCUMENTED_FIELDS, TOPIC_SEPARATOR};

use super::{topic_part, Field, Name, Unparsed};
use crate::diagnostics::{did_you_mean, Diagnostics, FirstDeclared};
use crate::parse::{Flag, StateDecl};

/// Methods the generated code already has on the state enum (where initial states'
/// constructors go) or on the action type (where transitions go).
const RESERVED_VERBS: &[&str] = &[
    "index",
    "as_str",
    "is_initial",
    "is_terminal",
    "is_end",
    "can_transition_to",
    "successors",
    "topic",
    "event",
    "extra_mut",
    "into_event",
    "state",
];

pub(crate) struct State {
    pub(crate) docs: Vec<Attribute>,
    pub(crate) name: Ident,
    pub(crate) wire_name: Name,
    pub(crate) aliases: Vec<Name>,
    pub(crate) initial: bool,
    pub(crate) kind: Kind,
    pub(crate) next: Vec<usize>,
    /// The fields this state requires, where they resolved.
    pub(crate) requires: Vec<Requirement>,
    /// The typestate method into this state: the declared `verb`, else the state's name in
    /// snake case.
    pub(crate) verb: Ident,
    /// Whether the typestate API gets the method: not when the name is a keyword, taken
    /// by generated code, or an earlier state's (each reported).
    pub(crate) has_method: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Open,
    Terminal,
    End,
}

impl Kind {
    pub(crate) fn ends(self) -> bool {
        self != Kind::Open
    }
}

/// A field a state requires: a documented optional one (`error_message`) or a declared one.
pub(crate) enum Requirement {
    Documented {
        rust_name: &'static str,
        wire_name: &'static str,
    },
    /// A declared field, always an `Option` one (`requires` on another is refused).
    Declared(usize),
}

impl State {
    /// The states the model keeps, and whether the graph is the one declared (no state
    /// dropped, every transition resolved).
    ///
    /// Every declared state is checked, a dropped repeat too, so that each of its own
    /// mistakes is reported in the same build.
    pub(super) fn resolve(
        declared: &[&StateDecl],
        docs: Vec<Vec<Attribute>>,
        fields: &[Field],
        unparsed: Unparsed<'_>,
        diagnostics: &mut Diagnostics,
    ) -> (Vec<State>, bool) {
        let kept = distinct(declared, diagnostics);
        let index: HashMap<String, usize> = declared
            .iter()
            .zip(&kept)
            .filter(|(_, &keep)| keep)
            .enumerate()
            .map(|(i, (s, _))| (s.name.to_string(), i))
            .collect();
        let mut graph_is_whole = kept.iter().all(|&keep| keep) && unparsed.states.is_empty();
        let mut all = Vec::with_capacity(declared.len());
        for (decl, docs) in declared.iter().zip(docs) {
            let kind = kind(decl, diagnostics);
            let wire_name = topic_part(&decl.wire_name, "state", diagnostics);
            if wire_name.as_str() == ALL_STATES {
                diagnostics.error(
                    wire_name.span(),
                    "state wire name `all` is reserved for the `<mediaType>:all` topic",
                );
            }
            let (next, resolved) = transitions(decl, declared, &index, unparsed, diagnostics);
            graph_is_whole &= resolved;
            let requires = decl
                .requires
                .iter()
                .filter_map(|name| requirement(name, fields, unparsed, diagnostics))
                .collect();
            all.push(State {
                docs,
                name: decl.name.clone(),
                wire_name,
                aliases: decl.aliases.iter().map(Name::from).collect(),
                initial: decl.flags.iter().any(|f| matches!(f, Flag::Initial(_))),
                kind,
                // A state that ends the lifecycle has no successors, whatever was written
                // (`kind` reports the contradiction).
                next: if kind.ends() { Vec::new() } else { next },
                requires,
                verb: decl.verb.clone().unwrap_or_else(|| snake_case(&decl.name)),
                has_method: true,
            });
        }
        aliases(&all, diagnostics);
        let mut states: Vec<State> = all
            .into_iter()
            .zip(kept)
            .filter_map(|(state, keep)| keep.then_some(state))
            .collect();
        verbs(&mut states, fields, diagnostics);
        (states, graph_is_whole)
    }
}

/// Rule: no state is declared twice, by Rust name or by wire name. Which states the model
/// keeps: each that repeats neither name of a state kept before it. (A repeat is reported
/// against the first declaration, kept or not, so the note points at it.)
fn distinct(declared: &[&StateDecl], diagnostics: &mut Diagnostics) -> Vec<bool> {
    let mut names = FirstDeclared::default();
    let mut wire_names = FirstDeclared::default();
    let mut kept: Vec<bool> = Vec::with_capacity(declared.len());
    for (i, state) in declared.iter().enumerate() {
        let name = state.name.to_string();
        let what = format!("state `{name}`");
        names.record(&name, state.name.span(), what, diagnostics);
        let wire = state.wire_name.value();
        let what = format!("state wire name `{wire}`");
        wire_names.record(&wire, state.wire_name.span(), what, diagnostics);
        let taken = declared[..i].iter().zip(&kept).any(|(earlier, &keep)| {
            keep && (earlier.name == state.name || earlier.wire_name.value() == wire)
        });
        kept.push(!taken);
    }
    kept
}

/// Rules: a flag comes once, a state is `terminal` or `end` but not both, and a state that
/// ends the lifecycle has no `-> ...`. Decides the state's kind, `terminal` over `end`.
fn kind(state: &StateDecl, diagnostics: &mut Diagnostics) -> Kind {
    let mut seen = FirstDeclared::default();
    for flag in &state.flags {
        let name = match flag {
            Flag::Initial(_) => "initial",
            Flag::Terminal(_) => "terminal",
            Flag::End(_) => "end",
        };
        seen.record(name, flag.span(), format!("flag `{name}`"), diagnostics);
    }
    let terminal = state.flags.iter().find(|f| matches!(f, Flag::Terminal(_)));
    let end = state.flags.iter().find(|f| matches!(f, Flag::End(_)));
    if let (Some(_), Some(end)) = (terminal, end) {
        diagnostics.error(
            end.span(),
            "a state is `terminal` (ends the lifecycle, no re-offer) or `end` (ends it without being terminal), not both",
        );
    }
    let (kind, keyword) = match (terminal, end) {
        (Some(_), _) => (Kind::Terminal, "terminal"),
        (None, Some(_)) => (Kind::End, "end"),
        (None, None) => (Kind::Open, ""),
    };
    if let (Some(arrow), true) = (&state.arrow, kind.ends()) {
        diagnostics.error(
            arrow.span(),
            format_args!(
                "state `{}` is `{keyword}`, so no state may follow it; remove the `-> ...` or the `{keyword}` flag",
                state.name
            ),
        );
    }
    kind
}

/// Rules: a transition names a declared state, and names it once. The targets the model
/// keeps (indices of kept states), and whether every transition resolved. A target the
/// model dropped as a repeat resolves to nothing, without a second error.
fn transitions(
    state: &StateDecl,
    declared: &[&StateDecl],
    index: &HashMap<String, usize>,
    unparsed: Unparsed<'_>,
    diagnostics: &mut Diagnostics,
) -> (Vec<usize>, bool) {
    let mut resolved = true;
    let mut seen = FirstDeclared::default();
    let mut next = Vec::new();
    for target in &state.next {
        let name = target.to_string();
        if unparsed.states.contains(target) {
            resolved = false;
            continue;
        }
        if !declared.iter().any(|s| s.name == *target) {
            let names: Vec<String> = declared.iter().map(|s| s.name.to_string()).collect();
            let hint = did_you_mean(&name, names.iter().map(String::as_str));
            diagnostics.error(
                target.span(),
                format_args!(
                    "unknown state `{name}` in the transitions of `{}`{hint}",
                    state.name
                ),
            );
            resolved = false;
            // The typo's likely meaning still gets its transition (and typestate method),
            // so code written against the intended declaration reports nothing more.
            let meant = events_spec::closest(&name, names.iter().map(String::as_str))
                .and_then(|meant| index.get(meant));
            if let Some(&i) = meant.filter(|i| !next.contains(*i)) {
                next.push(i);
            }
            continue;
        }
        let what = format!("transition `{} -> {name}`", state.name);
        if !seen.record(&name, target.span(), what, diagnostics) {
            resolved = false;
        } else if let Some(&i) = index.get(&name) {
            next.push(i);
        }
    }
    (next, resolved)
}

/// Rule: `requires` names an optional field: `error_code`, `error_message` or a declared
/// field the model keeps. What it resolves to, if anything.
fn requirement(
    name: &Ident,
    fields: &[Field],
    unparsed: Unparsed<'_>,
    diagnostics: &mut Diagnostics,
) -> Option<Requirement> {
    if unparsed.fields.contains(name) {
        return None;
    }
    if let Some(i) = fields.iter().position(|f| f.name == *name) {
        if !fields[i].optional {
            diagnostics.error(
                name.span(),
                format_args!("field `{name}` is not an `Option`, so every event already carries it; `requires` names optional fields: remove `{name}` here, or declare it `Option<...>`"),
            );
            return None;
        }
        return Some(Requirement::Declared(i));
    }
    let text = name.to_string();
    let documented = DOCUMENTED_FIELDS.iter().find(|f| f.rust_name == text);
    if let Some(field) = documented.filter(|f| !f.required) {
        return Some(Requirement::Documented {
            rust_name: field.rust_name,
            wire_name: field.wire_name,
        });
    }
    if documented.is_some() {
        diagnostics.error(
            name.span(),
            format_args!("`{text}` is carried by every event; `requires` names optional fields (`error_code`, `error_message` or a declared field)"),
        );
        return None;
    }
    let candidates: Vec<String> = fields
        .iter()
        .map(|f| f.name.to_string())
        .chain(
            DOCUMENTED_FIELDS
                .iter()
                .filter(|f| !f.required)
                .map(|f| f.rust_name.to_owned()),
        )
        .collect();
    let hint = did_you_mean(&text, candidates.iter().map(String::as_str));
    diagnostics.error(
        name.span(),
        format_args!("`requires` names unknown field `{text}`; expected `error_code`, `error_message` or a field declared in `fields`{hint}"),
    );
    None
}

/// Rule: an alias is no other state's wire name or alias (nor its own state's wire name),
/// and can be part of a topic. The model keeps every alias: a clash is an error, and the
/// types are the same with or without it.
fn aliases(states: &[State], diagnostics: &mut Diagnostics) {
    let mut taken: HashMap<&str, (Span, String)> = states
        .iter()
        .map(|s| {
            (
                s.wire_name.as_str(),
                (s.wire_name.span(), s.name.to_string()),
            )
        })
        .collect();
    for state in states {
        for alias in &state.aliases {
            if let Some((first, owner)) = taken.get(alias.as_str()) {
                let whose = if state.name == *owner {
                    "this state's".to_owned()
                } else {
                    format!("state `{owner}`'s")
                };
                diagnostics.error(
                    alias.span(),
                    format_args!("alias `{alias}` is already {whose} wire name or alias"),
                );
                diagnostics.error(
                    *first,
                    format_args!("note: `{alias}` is first declared here"),
                );
                continue;
            }
            if alias.is_empty() || alias.contains(TOPIC_SEPARATOR) || alias.as_str() == ALL_STATES {
                diagnostics.error(
                    alias.span(),
                    format_args!(
                        "alias `{alias}` cannot be part of a topic (empty, contains `:`, or `all`)"
                    ),
                );
            }
            taken.insert(alias.as_str(), (alias.span(), state.name.to_string()));
        }
    }
}

/// Rule: each state's typestate method (`verb`, or its snake_case name) is a usable,
/// unique method name. Decides which states get the method.
fn verbs(states: &mut [State], fields: &[Field], diagnostics: &mut Diagnostics) {
    let mut seen = FirstDeclared::default();
    for state in states {
        let verb = state.verb.to_string();
        let mut usable = true;
        if let Some(field) = fields.iter().find(|f| verb == setter_name(&f.name)) {
            diagnostics.error(
                state.verb.span(),
                format_args!(
                    "the method into state `{}` would be `{verb}`, the setter of field `{}`; name it with `verb ...`",
                    state.name, field.name
                ),
            );
            usable = false;
        }
        if syn::parse_str::<Ident>(&verb).is_err() {
            diagnostics.error(
                state.verb.span(),
                format_args!("the method into state `{}` would be `{verb}`, a keyword; name it with `verb ...`", state.name),
            );
            usable = false;
        } else if RESERVED_VERBS.contains(&verb.as_str()) {
            diagnostics.error(
                state.verb.span(),
                format_args!("the method into state `{}` would be `{verb}`, which the generated code already defines; name it with `verb ...`", state.name),
            );
            usable = false;
        }
        let first = seen.record(
            &verb,
            state.verb.span(),
            format!("method `{verb}`"),
            diagnostics,
        );
        state.has_method = usable && first;
    }
}

/// The typestate action's setter of a declared field: `set_<field>`.
pub(crate) fn setter_name(field: &Ident) -> String {
    format!("set_{field}")
}

/// `TimedOut` → `timed_out`, keeping the span for diagnostics.
pub(crate) fn snake_case(name: &Ident) -> Ident {
    let mut snake = String::new();
    for (i, c) in name.to_string().chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                snake.push('_');
            }
            snake.extend(c.to_lowercase());
        } else {
            snake.push(c);
        }
    }
    Ident::new(&snake, name.span())
}
