//! Stage 2: the declaration resolved into what it means: states by index, transitions as
//! index lists, fields with their wire names and JSON types.
//!
//! Building the model never fails. Where the syntax is wrong (a state declared twice, a
//! transition to an unknown state) the model keeps the first declaration and drops the bad
//! reference; `validate` reports it. Expansion then still produces every type, so the user
//! sees the real error and no follow-on ones.

use std::collections::HashMap;

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::{Attribute, Ident, LitStr, Type, Visibility};

use crate::parse::{Declaration, FieldDecl, Flag, StateDecl};

/// The documented fields every event carries: (Rust name, wire name). The runtime's
/// `DOCUMENTED_FIELDS` says the same with docs and types.
pub(crate) const DOCUMENTED_FIELDS: &[(&str, &str)] = &[
    ("action_id", "actionId"),
    ("action_state", "actionState"),
    ("action_media_type", "actionMediaType"),
    ("action_map_id", "actionMapId"),
    ("action_map_version", "actionMapVersion"),
    ("customer_id", "customerId"),
    ("customer_id_type", "customerIdType"),
    ("session_id", "sessionId"),
    ("error_code", "errorCode"),
    ("error_message", "errorMessage"),
];

/// Methods the generated code already has on the state enum (where initial states'
/// constructors go) or on the action type (where transitions go).
pub(crate) const RESERVED_VERBS: &[&str] = &[
    "index",
    "as_str",
    "is_initial",
    "is_terminal",
    "is_end",
    "can_transition_to",
    "successors",
    "topic",
    "event",
    "event_mut",
    "into_event",
    "state",
];

/// The event struct's field that keeps unknown fields; no declared field may take its name.
pub(crate) const EXTRA_FIELD: &str = "extra";

pub(crate) struct Model {
    pub(crate) docs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) name: Ident,
    pub(crate) event_name: Ident,
    pub(crate) wire_name: String,
    pub(crate) version: u32,
    pub(crate) states: Vec<State>,
    pub(crate) fields: Vec<Field>,
}

pub(crate) struct State {
    pub(crate) docs: Vec<Attribute>,
    pub(crate) name: Ident,
    pub(crate) wire_name: String,
    pub(crate) aliases: Vec<String>,
    pub(crate) initial: bool,
    pub(crate) kind: Kind,
    pub(crate) next: Vec<usize>,
    /// The fields this state requires, where they resolved.
    pub(crate) requires: Vec<Requirement>,
    /// The typestate method into this state: the declared `verb`, else the state's name in
    /// snake case.
    pub(crate) verb: Ident,
    /// Whether the typestate API gets the method: not when the name is a keyword, taken
    /// by generated code, or an earlier state's (validation says which).
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
    Declared(usize),
}

pub(crate) struct Field {
    pub(crate) docs: Vec<Attribute>,
    pub(crate) name: Ident,
    pub(crate) ty: Type,
    pub(crate) wire_name: String,
    /// `Option<T>`: absent means `None`; any other type must be present in every event.
    pub(crate) optional: bool,
    /// The type of a present value: `T` of `Option<T>`, else the field's type.
    pub(crate) value_ty: Type,
    pub(crate) json_type: TokenStream,
}

impl Model {
    pub(crate) fn build(declaration: &Declaration) -> Model {
        let name = declaration.name.clone();
        let event_name = Ident::new(&format!("{name}Event"), name.span());
        let all_states = declaration.states.iter().flat_map(|(_, states)| states);
        let mut states: Vec<&StateDecl> = Vec::new();
        for state in all_states {
            let taken = states
                .iter()
                .any(|s| s.name == state.name || s.wire_name.value() == state.wire_name.value());
            if !taken {
                states.push(state);
            }
        }
        let mut fields: Vec<&FieldDecl> = Vec::new();
        for field in declaration.fields.iter().flat_map(|(_, fields)| fields) {
            let wire = wire_name_of(field);
            let clashes = fields
                .iter()
                .any(|f| f.name == field.name || wire_name_of(f) == wire)
                || DOCUMENTED_FIELDS
                    .iter()
                    .any(|&(rust, w)| field.name == rust || wire == w)
                || field.name == EXTRA_FIELD;
            if !clashes {
                fields.push(field);
            }
        }
        let index: HashMap<String, usize> = states
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.to_string(), i))
            .collect();
        let fields: Vec<Field> = fields.into_iter().map(Field::build).collect();
        let mut states: Vec<State> = states
            .into_iter()
            .map(|state| State::build(state, &index, &fields))
            .collect();
        for i in 0..states.len() {
            let verb = states[i].verb.to_string();
            let usable =
                syn::parse_str::<Ident>(&verb).is_ok() && !RESERVED_VERBS.contains(&verb.as_str());
            let taken = states[..i].iter().any(|s| s.has_method && s.verb == verb);
            states[i].has_method = usable && !taken;
        }
        let version = declaration
            .versions
            .first()
            .and_then(|(_, v)| v.base10_parse().ok())
            .unwrap_or(1);
        Model {
            docs: doc_attrs(&declaration.attrs),
            vis: declaration.vis.clone(),
            name,
            event_name,
            wire_name: declaration.wire_name.value(),
            version,
            states,
            fields,
        }
    }
}

impl State {
    fn build(decl: &StateDecl, index: &HashMap<String, usize>, fields: &[Field]) -> State {
        let mut next: Vec<usize> = Vec::new();
        for target in &decl.next {
            if let Some(&i) = index.get(&target.to_string()) {
                if !next.contains(&i) {
                    next.push(i);
                }
            }
        }
        let kind = decl.flags.iter().fold(Kind::Open, |kind, flag| match flag {
            Flag::Terminal(_) => Kind::Terminal,
            Flag::End(_) if kind == Kind::Open => Kind::End,
            _ => kind,
        });
        let requires = decl
            .requires
            .iter()
            .filter_map(|name| resolve_requirement(name, fields))
            .collect();
        State {
            docs: doc_attrs(&decl.attrs),
            name: decl.name.clone(),
            wire_name: decl.wire_name.value(),
            aliases: decl.aliases.iter().map(LitStr::value).collect(),
            initial: decl.flags.iter().any(|f| matches!(f, Flag::Initial(_))),
            kind,
            // A state that ends the lifecycle has no successors, whatever was written;
            // validation reports the contradiction.
            next: if kind.ends() { Vec::new() } else { next },
            requires,
            verb: decl.verb.clone().unwrap_or_else(|| snake_case(&decl.name)),
            has_method: true,
        }
    }
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

/// What a `requires` name refers to: an optional documented field or a declared field.
pub(crate) fn resolve_requirement(name: &Ident, fields: &[Field]) -> Option<Requirement> {
    if let Some(i) = fields.iter().position(|f| f.name == *name) {
        return Some(Requirement::Declared(i));
    }
    match name.to_string().as_str() {
        "error_code" => Some(Requirement::Documented {
            rust_name: "error_code",
            wire_name: "errorCode",
        }),
        "error_message" => Some(Requirement::Documented {
            rust_name: "error_message",
            wire_name: "errorMessage",
        }),
        _ => None,
    }
}

impl Field {
    fn build(decl: &FieldDecl) -> Field {
        let inner = option_inner(&decl.ty);
        Field {
            docs: doc_attrs(&decl.attrs),
            name: decl.name.clone(),
            ty: decl.ty.clone(),
            wire_name: wire_name_of(decl),
            optional: inner.is_some(),
            value_ty: inner.unwrap_or(&decl.ty).clone(),
            json_type: json_type(inner.unwrap_or(&decl.ty)),
        }
    }
}

/// The declared wire name, or the Rust name in lowerCamelCase (`page_url` → `pageUrl`).
pub(crate) fn wire_name_of(field: &FieldDecl) -> String {
    match &field.wire_name {
        Some(wire) => wire.value(),
        None => {
            let rust = field.name.to_string();
            let mut camel = String::with_capacity(rust.len());
            let mut upper = false;
            for c in rust.trim_start_matches("r#").chars() {
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
    }
}

pub(crate) fn wire_span(field: &FieldDecl) -> Span {
    field
        .wire_name
        .as_ref()
        .map_or(field.name.span(), LitStr::span)
}

fn doc_attrs(attrs: &[Attribute]) -> Vec<Attribute> {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .cloned()
        .collect()
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

/// `T` when `ty` is `Option<T>` (also spelt with a path, `std::option::Option<T>`).
fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first()? {
        syn::GenericArgument::Type(inner) if args.args.len() == 1 => Some(inner),
        _ => None,
    }
}

/// The JSON type a Rust type is written as, from its last path segment. A type it does not
/// know is `Any`: documentation says "any value" rather than guessing.
fn json_type(ty: &Type) -> TokenStream {
    let name = match ty {
        Type::Path(path) => path.path.segments.last().map(|s| s.ident.to_string()),
        Type::Reference(reference) => match &*reference.elem {
            Type::Path(path) if path.path.is_ident("str") => Some("str".to_owned()),
            _ => None,
        },
        Type::Slice(_) | Type::Array(_) => Some("Vec".to_owned()),
        _ => None,
    };
    let variant = match name.as_deref() {
        Some("Uuid") => quote!(Uuid),
        Some("String" | "str" | "Cow" | "char") => quote!(String),
        Some(
            "u8" | "u16" | "u32" | "u64" | "u128" | "usize" | "i8" | "i16" | "i32" | "i64" | "i128"
            | "isize",
        ) => {
            quote!(Integer)
        }
        Some("f32" | "f64") => quote!(Number),
        Some("bool") => quote!(Boolean),
        Some("Vec" | "VecDeque" | "HashSet" | "BTreeSet") => quote!(Array),
        Some("HashMap" | "BTreeMap" | "Map") => quote!(Object),
        _ => quote!(Any),
    };
    variant
}
