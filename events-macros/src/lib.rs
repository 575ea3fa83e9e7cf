//! The `media_type!` procedural macro of `webaction-events`.
//!
//! Use it through the facade crate `webaction-events` (or `events-core`), whose
//! `media_type!` documents the language and passes this macro the path of the runtime.
//! The stages live one per file: `parse` (syntax), `model` (meaning), `validate`
//! (rules), and `expand` with `typestate` (code).

mod diagnostics;
mod expand;
mod model;
mod parse;
mod typestate;
mod validate;

use proc_macro::TokenStream;
use quote::quote;

/// Declares a media type. Documented on `webaction_events::media_type!`, which calls this
/// with the runtime's path as `crate = path;`.
#[proc_macro]
pub fn media_type(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as parse::Input);
    expand_input(input).into()
}

fn expand_input(input: parse::Input) -> proc_macro2::TokenStream {
    let krate = input.krate.unwrap_or_else(|| quote!(::webaction_events));
    let mut declaration = input.declaration;
    let mut diagnostics = std::mem::take(&mut declaration.diagnostics);
    let model = model::Model::build(&declaration, &mut diagnostics);
    validate::validate(&model, &mut diagnostics);
    // The types are generated even when the declaration has errors, from what could be
    // resolved, so that code using them reports no follow-on errors.
    let generated = expand::expand(&model, &krate);
    let errors = diagnostics.into_error().map(|e| e.to_compile_error());
    quote!(#errors #generated)
}

/// Every message a declaration (the part inside `pub Poll = "poll" { ... }`) gets from the
/// model and validation, in order.
#[cfg(test)]
fn messages(body: &str) -> Vec<String> {
    let source = format!("/// Docs.\npub Poll = \"poll\" {{ {body} }}");
    let mut declaration: parse::Declaration =
        syn::parse_str(&source).unwrap_or_else(|e| panic!("{source}: {e}"));
    let mut diagnostics = std::mem::take(&mut declaration.diagnostics);
    let model = model::Model::build(&declaration, &mut diagnostics);
    validate::validate(&model, &mut diagnostics);
    diagnostics
        .into_error()
        .map_or_else(Vec::new, |e| e.into_iter().map(|e| e.to_string()).collect())
}

/// For each `(body, message)`, that the declaration gets an error containing the message.
#[cfg(test)]
fn assert_each_reported(cases: &[(&str, &str)]) {
    for (body, expected) in cases {
        let found = messages(body);
        assert!(
            found.iter().any(|m| m.contains(expected)),
            "{body}\nexpected: {expected}\nfound: {found:#?}"
        );
    }
}
