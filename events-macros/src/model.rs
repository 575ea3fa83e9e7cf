//! Stage 2: the declaration resolved into what it means: states by index, transitions as
//! index lists, fields with their wire names and JSON types, every name with its span.
//!
//! Each declaration rule is decided here, once: what the model cannot use (a state
//! declared twice, a transition to an unknown state, a field that clashes) it drops and
//! reports in the same step, into the diagnostics it is given (serde_derive's
//! `Container::from_ast(cx, ..)`). Building never fails: expansion still produces every
//! type from what resolved, so the user sees the real error and no follow-on ones.
//! `validate` then judges the lifecycle graph the model holds.

mod fields;
mod states;

use std::fmt;
use std::ops::Deref;

use proc_macro2::Span;
use syn::{Attribute, Ident, LitStr, Visibility};

use crate::diagnostics::{Diagnostics, FirstDeclared};
use crate::parse::{Declaration, FieldDecl, StateDecl};

pub(crate) use fields::Field;
pub(crate) use states::{setter_name, snake_case, Kind, Requirement, State};

/// The most states a media type may have: transition tables are one `u64` per state.
const MAX_STATES: usize = 64;

pub(crate) struct Model {
    pub(crate) docs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) name: Ident,
    pub(crate) event_name: Ident,
    /// The typestate module of state markers.
    pub(crate) module: Ident,
    pub(crate) wire_name: Name,
    pub(crate) version: u32,
    pub(crate) states: Vec<State>,
    pub(crate) fields: Vec<Field>,
    /// Whether the graph is the one declared: no state was dropped and every transition
    /// named a state once. The graph rules judge only such a graph; otherwise they would
    /// repeat an error already reported in other words.
    pub(crate) graph_is_whole: bool,
}

/// A name the model holds (a wire name, an alias), with the span of the token it comes
/// from so that a rule about it points there. A name derived from another (a field's wire
/// name from its Rust name) has the span of the one it derives from.
#[derive(Clone)]
pub(crate) struct Name {
    value: String,
    span: Span,
}

impl Name {
    pub(crate) fn new(value: String, span: Span) -> Name {
        Name { value, span }
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.value
    }

    pub(crate) fn span(&self) -> Span {
        self.span
    }
}

impl From<&LitStr> for Name {
    fn from(literal: &LitStr) -> Name {
        Name::new(literal.value(), literal.span())
    }
}

impl Deref for Name {
    type Target = str;

    fn deref(&self) -> &str {
        &self.value
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

/// The states and fields whose line did not parse: reported there, so a reference to one
/// is no second error (and the graph, missing them, is not judged).
#[derive(Clone, Copy)]
pub(crate) struct Unparsed<'a> {
    pub(crate) states: &'a [Ident],
    pub(crate) fields: &'a [Ident],
}

impl Model {
    /// The model of `declaration`, reporting into `diagnostics` each rule it breaks, in
    /// the order of the declaration's parts: sections, attributes, the media type's wire
    /// name, states, aliases, verbs, fields.
    pub(crate) fn build(declaration: &Declaration, diagnostics: &mut Diagnostics) -> Model {
        let version = version(declaration, diagnostics);
        let declared_states: Vec<&StateDecl> =
            declaration.states.iter().flat_map(|(_, s)| s).collect();
        let declared_fields: Vec<&FieldDecl> =
            declaration.fields.iter().flat_map(|(_, f)| f).collect();
        let docs = doc_comments(&declaration.attrs, diagnostics);
        let state_docs: Vec<_> = declared_states
            .iter()
            .map(|s| doc_comments(&s.attrs, diagnostics))
            .collect();
        let field_docs: Vec<_> = declared_fields
            .iter()
            .map(|f| doc_comments(&f.attrs, diagnostics))
            .collect();
        let wire_name = topic_part(&declaration.wire_name, "media type", diagnostics);
        // States require fields, so fields resolve first; their errors still come after
        // the states', in the order of the declaration's rules users see them in.
        let mut field_diagnostics = Diagnostics::default();
        let fields = Field::resolve(&declared_fields, field_docs, &mut field_diagnostics);
        let unparsed = Unparsed {
            states: &declaration.unparsed_states,
            fields: &declaration.unparsed_fields,
        };
        let (states, graph_is_whole) =
            State::resolve(&declared_states, state_docs, &fields, unparsed, diagnostics);
        diagnostics.append(field_diagnostics);
        if declared_states.len() > MAX_STATES {
            diagnostics.error(
                declared_states[MAX_STATES].name.span(),
                format_args!("a media type has at most {MAX_STATES} states"),
            );
        }
        let name = declaration.name.clone();
        // The typestate module: named by `module = ...;` (the first, if repeated), else
        // the media type's name in snake case, so a user's own module can keep its name.
        let module = declaration
            .modules
            .first()
            .map_or_else(|| snake_case(&name), |(_, module)| module.clone());
        Model {
            module,
            docs,
            vis: declaration.vis.clone(),
            event_name: Ident::new(&format!("{name}Event"), name.span()),
            name,
            wire_name,
            version,
            states,
            fields,
            graph_is_whole,
        }
    }
}

/// Rules: each section comes once, the version is a whole number, and there are states.
/// The version is the first `version` section's, 1 when there is none or it is no number.
fn version(declaration: &Declaration, diagnostics: &mut Diagnostics) -> u32 {
    let mut sections = FirstDeclared::default();
    let keywords = (declaration.states.iter().map(|(kw, _)| ("states", kw.span)))
        .chain(declaration.fields.iter().map(|(kw, _)| ("fields", kw.span)))
        .chain(
            declaration
                .versions
                .iter()
                .map(|(kw, _)| ("version", kw.span)),
        )
        .chain(
            declaration
                .modules
                .iter()
                .map(|(kw, _)| ("module", kw.span)),
        );
    for (section, span) in keywords {
        let what = format!("the `{section}` section");
        sections.record(section, span, &what, diagnostics);
    }
    let mut version = None;
    for (i, (_, literal)) in declaration.versions.iter().enumerate() {
        let parsed = literal.base10_parse::<u32>();
        if let Err(error) = &parsed {
            diagnostics.error(
                literal.span(),
                format_args!("the version must be a whole number: {error}"),
            );
        }
        if i == 0 {
            version = parsed.ok();
        }
    }
    if declaration.states.is_empty() {
        diagnostics.error(
            declaration.name.span(),
            "a media type needs a `states { ... }` section with at least one initial state",
        );
    }
    version.unwrap_or(1)
}

/// Rule: only doc comments stand on the declaration, its states and its fields. Any other
/// attribute (`#[serde(...)]`, `#[cfg(...)]`) would be dropped by the expansion, silently,
/// so it is reported as it is dropped.
fn doc_comments(attrs: &[Attribute], diagnostics: &mut Diagnostics) -> Vec<Attribute> {
    let (docs, others): (Vec<&Attribute>, Vec<&Attribute>) =
        attrs.iter().partition(|a| a.path().is_ident("doc"));
    for attr in others {
        diagnostics.push(syn::Error::new_spanned(
            attr,
            "only doc comments (`///`) are supported here; the declaration is the whole spec, so other attributes would be ignored",
        ));
    }
    docs.into_iter().cloned().collect()
}

/// Rule: a wire name can be a part of a topic `"<mediaType>:<state>"`. `what` says whose
/// wire name it is, for the message.
fn topic_part(literal: &LitStr, what: &str, diagnostics: &mut Diagnostics) -> Name {
    let name = Name::from(literal);
    if let Some(problem) = events_spec::wire_name_problem(&name) {
        diagnostics.error(
            name.span(),
            format_args!("{what} wire name `{name}` {problem}"),
        );
    }
    name
}

/// The doc comment's text, one line per `///` line, with the one leading space rustdoc
/// strips too.
pub(crate) fn doc_text(docs: &[Attribute]) -> String {
    docs.iter()
        .filter_map(|attr| match &attr.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        })
        .map(|line| line.strip_prefix(' ').map(str::to_owned).unwrap_or(line))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use crate::{assert_each_reported, messages};

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
    fn independent_syntax_errors_are_reported_together_without_follow_ons() {
        // A line that does not parse is reported and skipped; the other lines' mistakes
        // still are reported, and nothing refers to the skipped line as unknown.
        let body = r#"states {
            intial Shown = "shown" -> Answered | Failed,
            Answered = "answered" -> Closed | Faild,
            terminal Closed = "closed" (aliases "done", verb close),
            end Failed = "failed" (requires answer, note),
        }
        fields { answer: Option<String> = 5, note: String }"#;
        let found = messages(body);
        let expected = [
            "unknown state flag `intial`",
            "expected string literal",
            "state options are separated by `;`",
            "unknown state `Faild` in the transitions of `Answered` (did you mean `Failed`?)",
            "field `note` is not an `Option`",
        ];
        for message in expected {
            assert!(
                found.iter().any(|m| m.contains(message)),
                "missing {message:?} in {found:#?}"
            );
        }
        assert_eq!(found.len(), expected.len(), "{found:#?}");
    }

    #[test]
    fn each_declaration_rule_reports_its_own_message() {
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
                r#"states { initial A = "a" -> C, terminal C = "c" -> A }"#,
                "state `C` is `terminal`, so no state may follow it",
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
        assert_each_reported(cases);
    }
}
