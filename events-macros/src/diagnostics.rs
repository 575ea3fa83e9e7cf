//! Collects every error of one declaration, each on the token that caused it, so the user
//! sees all of them in one build (serde_derive's `Ctxt`, darling's `Accumulator`).

use std::collections::HashMap;
use std::fmt::Display;

use proc_macro2::Span;
use syn::Ident;

#[derive(Default)]
pub(crate) struct Diagnostics {
    errors: Option<syn::Error>,
}

impl Diagnostics {
    pub(crate) fn error(&mut self, span: Span, message: impl Display) {
        self.push(syn::Error::new(span, message));
    }

    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.errors {
            Some(errors) => errors.combine(error),
            None => self.errors = Some(error),
        }
    }

    /// `what` declared twice: the error on the second, a note on the first.
    pub(crate) fn duplicate(&mut self, second: Span, first: Span, what: impl Display) {
        self.error(second, format_args!("{what} is declared twice"));
        self.error(first, format_args!("note: {what} is first declared here"));
    }

    pub(crate) fn unknown_keyword(&mut self, unknown: &Ident, what: &str, expected: &[&str]) {
        self.push(Self::unknown_keyword_error(unknown, what, expected));
    }

    /// "unknown section `stats`; expected one of `states`, `fields`, `version` (did you mean
    /// `states`?)".
    pub(crate) fn unknown_keyword_error(
        unknown: &Ident,
        what: &str,
        expected: &[&str],
    ) -> syn::Error {
        let found = unknown.to_string();
        let list = expected
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let hint = did_you_mean(&found, expected.iter().copied());
        syn::Error::new(
            unknown.span(),
            format!("unknown {what} `{found}`; expected one of {list}{hint}"),
        )
    }

    /// `other`'s errors after this one's, in their order.
    pub(crate) fn append(&mut self, other: Diagnostics) {
        if let Some(errors) = other.errors {
            self.push(errors);
        }
    }

    pub(crate) fn into_error(self) -> Option<syn::Error> {
        self.errors
    }
}

/// Where each name of one kind (states, flags of one state, ...) was first declared, so a
/// repeat's error can point back at it.
#[derive(Default)]
pub(crate) struct FirstDeclared {
    spans: HashMap<String, Span>,
}

impl FirstDeclared {
    /// Records `name`, declared at `span`. Whether it is the first: a repeat is reported as
    /// `what` declared twice, with the note on the first.
    pub(crate) fn record(
        &mut self,
        name: &str,
        span: Span,
        what: impl Display,
        diagnostics: &mut Diagnostics,
    ) -> bool {
        match self.spans.get(name) {
            Some(&first) => {
                diagnostics.duplicate(span, first, what);
                false
            }
            None => {
                self.spans.insert(name.to_owned(), span);
                true
            }
        }
    }
}

/// `" (did you mean `x`?)"` when a candidate is a likely typo of `input`, else `""`, by
/// the rule the runtime suggests with too.
pub(crate) fn did_you_mean<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> String {
    events_spec::closest(input, candidates)
        .map(|candidate| format!(" (did you mean `{candidate}`?)"))
        .unwrap_or_default()
}
