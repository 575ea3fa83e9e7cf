//! Stage 1: the declaration's syntax, as written, with every token's span kept for
//! diagnostics. Nothing is checked here beyond the grammar.

use proc_macro2::{Span, TokenStream};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{braced, parenthesized, Attribute, Ident, LitInt, LitStr, Token, Type, Visibility};

use crate::diagnostics::Diagnostics;

pub(crate) mod kw {
    syn::custom_keyword!(states);
    syn::custom_keyword!(fields);
    syn::custom_keyword!(version);
    syn::custom_keyword!(module);
    syn::custom_keyword!(initial);
    syn::custom_keyword!(terminal);
    syn::custom_keyword!(end);
    syn::custom_keyword!(aliases);
    syn::custom_keyword!(requires);
    syn::custom_keyword!(verb);
}

/// Section keywords, for "expected one of" and "did you mean".
pub(crate) const SECTIONS: &[&str] = &["states", "fields", "version", "module"];
/// State flags.
pub(crate) const FLAGS: &[&str] = &["initial", "terminal", "end"];
/// State options, inside the parentheses after the wire name.
pub(crate) const OPTIONS: &[&str] = &["aliases", "requires", "verb"];

/// The whole macro input: `[crate = path;] <declaration>`.
pub(crate) struct Input {
    /// Where the runtime is, when the caller says (`$crate` from the wrapper macros).
    pub(crate) krate: Option<TokenStream>,
    pub(crate) declaration: Declaration,
}

/// `/// docs` `pub WebChat = "webchat" { sections }`
pub(crate) struct Declaration {
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) name: Ident,
    pub(crate) wire_name: LitStr,
    pub(crate) states: Vec<(kw::states, Vec<StateDecl>)>,
    pub(crate) fields: Vec<(kw::fields, Vec<FieldDecl>)>,
    pub(crate) versions: Vec<(kw::version, LitInt)>,
    /// `module = name;`: the typestate module's name.
    pub(crate) modules: Vec<(kw::module, Ident)>,
    /// The names of the states and fields whose line did not parse (its error is in
    /// `diagnostics`), so that references to them are not reported again as unknown.
    pub(crate) unparsed_states: Vec<Ident>,
    pub(crate) unparsed_fields: Vec<Ident>,
    /// Errors the parser recovered from (an unknown section, a state or field line that
    /// does not parse), reported with validation's.
    pub(crate) diagnostics: Diagnostics,
}

/// `/// docs` `initial Offered = "offered" (aliases "x"; requires field; verb offer) -> A | B`
pub(crate) struct StateDecl {
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) flags: Vec<Flag>,
    pub(crate) name: Ident,
    pub(crate) wire_name: LitStr,
    pub(crate) aliases: Vec<LitStr>,
    pub(crate) requires: Vec<Ident>,
    /// The typestate method that moves an action into this state (`verb accept`).
    pub(crate) verb: Option<Ident>,
    /// The `->` token, when there are next states.
    pub(crate) arrow: Option<Token![->]>,
    pub(crate) next: Vec<Ident>,
    /// Mistakes in the line that did not stop its parse (a `,` between options).
    pub(crate) recovered: Vec<syn::Error>,
}

#[derive(Clone, Copy)]
pub(crate) enum Flag {
    Initial(kw::initial),
    Terminal(kw::terminal),
    End(kw::end),
}

impl Flag {
    pub(crate) fn span(self) -> Span {
        match self {
            Flag::Initial(kw) => kw.span,
            Flag::Terminal(kw) => kw.span,
            Flag::End(kw) => kw.span,
        }
    }
}

/// `/// docs` `conversation_id: Option<Uuid> = "conversationId"`
pub(crate) struct FieldDecl {
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) name: Ident,
    pub(crate) ty: Type,
    pub(crate) wire_name: Option<LitStr>,
}

impl Parse for Input {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        // `crate = path;` may come twice: first from the wrapper macro (`$crate`), then
        // from a user who re-exports the facade under another path. The last one wins.
        let mut krate = None;
        while input.peek(Token![crate]) && input.peek2(Token![=]) {
            input.parse::<Token![crate]>()?;
            input.parse::<Token![=]>()?;
            // Taken as raw tokens: the wrapper macros pass `$crate`, which is no path syn
            // would parse.
            let mut path = TokenStream::new();
            while !input.peek(Token![;]) {
                path.extend(std::iter::once(input.parse::<proc_macro2::TokenTree>()?));
            }
            input.parse::<Token![;]>()?;
            krate = Some(path);
        }
        Ok(Input {
            krate,
            declaration: input.parse()?,
        })
    }
}

impl Parse for Declaration {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis = input.parse()?;
        let name = input.parse()?;
        input.parse::<Token![=]>()?;
        let wire_name = input.parse()?;
        let body;
        braced!(body in input);
        let mut declaration = Declaration {
            attrs,
            vis,
            name,
            wire_name,
            states: Vec::new(),
            fields: Vec::new(),
            versions: Vec::new(),
            modules: Vec::new(),
            unparsed_states: Vec::new(),
            unparsed_fields: Vec::new(),
            diagnostics: Diagnostics::default(),
        };
        while !body.is_empty() {
            let lookahead = body.lookahead1();
            if lookahead.peek(kw::states) {
                let keyword = body.parse()?;
                let mut states = parse_items::<StateDecl, Token![=]>(
                    &body,
                    &mut declaration.unparsed_states,
                    &mut declaration.diagnostics,
                )?;
                for state in &mut states {
                    for error in state.recovered.drain(..) {
                        declaration.diagnostics.push(error);
                    }
                }
                declaration.states.push((keyword, states));
            } else if lookahead.peek(kw::fields) {
                let keyword = body.parse()?;
                let fields = parse_items::<FieldDecl, Token![:]>(
                    &body,
                    &mut declaration.unparsed_fields,
                    &mut declaration.diagnostics,
                )?;
                declaration.fields.push((keyword, fields));
            } else if lookahead.peek(kw::version) {
                let keyword = body.parse()?;
                body.parse::<Token![=]>()?;
                declaration.versions.push((keyword, body.parse()?));
                body.parse::<Option<Token![;]>>()?;
            } else if lookahead.peek(kw::module) {
                let keyword = body.parse()?;
                body.parse::<Token![=]>()?;
                declaration.modules.push((keyword, body.parse()?));
                body.parse::<Option<Token![;]>>()?;
            } else if body.peek(Ident) && body.peek2(syn::token::Brace) {
                // A misspelt section: report it and skip its body, so the rest of the
                // declaration is still checked.
                let unknown: Ident = body.parse()?;
                let skipped;
                braced!(skipped in body);
                skipped.parse::<TokenStream>()?;
                declaration
                    .diagnostics
                    .unknown_keyword(&unknown, "section", SECTIONS);
            } else {
                return Err(lookahead.error());
            }
        }
        Ok(declaration)
    }
}

/// `{ item, item, ... }` with an optional trailing comma, recovering per item: an item
/// that does not parse is reported and skipped up to the next `,`, so the mistakes of
/// independent lines are reported together. The name of a skipped item (the identifier
/// before a `P`: `=` for a state, `:` for a field) goes to `unparsed`.
fn parse_items<T: Parse, P: syn::token::Token>(
    input: ParseStream<'_>,
    unparsed: &mut Vec<Ident>,
    diagnostics: &mut Diagnostics,
) -> syn::Result<Vec<T>> {
    let content;
    braced!(content in input);
    let mut items = Vec::new();
    while !content.is_empty() {
        let start = content.fork();
        match content.parse::<T>() {
            Ok(item) if content.is_empty() || content.peek(Token![,]) => items.push(item),
            Ok(_) => {
                diagnostics.push(content.error("expected `,` before the next item"));
                unparsed.extend(item_name::<P>(&start));
                skip_item(&content)?;
            }
            Err(error) => {
                diagnostics.push(error);
                unparsed.extend(item_name::<P>(&start));
                skip_item(&content)?;
            }
        }
        if !content.is_empty() {
            content.parse::<Token![,]>()?;
        }
    }
    Ok(items)
}

/// The name of the item starting at `item`: its first identifier followed by `P`.
fn item_name<P: syn::token::Token>(item: ParseStream<'_>) -> Option<Ident> {
    let mut cursor = item.cursor();
    while let Some((token, next)) = cursor.token_tree() {
        if let proc_macro2::TokenTree::Punct(p) = &token {
            if p.as_char() == ',' {
                return None;
            }
        }
        if let proc_macro2::TokenTree::Ident(ident) = &token {
            if P::peek(next) {
                return Some(ident.clone());
            }
        }
        cursor = next;
    }
    None
}

/// Skips the rest of an item: up to the next `,` outside `<...>` (a field type's generic
/// arguments have commas too), or the end.
fn skip_item(input: ParseStream<'_>) -> syn::Result<()> {
    let mut angle_depth = 0usize;
    while !input.is_empty() {
        if angle_depth == 0 && input.peek(Token![,]) {
            break;
        }
        if input.peek(Token![->]) {
            input.parse::<Token![->]>()?;
            continue;
        }
        if input.peek(Token![<]) {
            angle_depth += 1;
        } else if input.peek(Token![>]) {
            angle_depth = angle_depth.saturating_sub(1);
        }
        input.parse::<proc_macro2::TokenTree>()?;
    }
    Ok(())
}

impl Parse for StateDecl {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let mut flags = Vec::new();
        // Flags come before the name; a lowercase word followed by another word is a flag,
        // known or not.
        while input.peek(Ident) && input.peek2(Ident) {
            let lookahead = input.lookahead1();
            if lookahead.peek(kw::initial) {
                flags.push(Flag::Initial(input.parse()?));
            } else if lookahead.peek(kw::terminal) {
                flags.push(Flag::Terminal(input.parse()?));
            } else if lookahead.peek(kw::end) {
                flags.push(Flag::End(input.parse()?));
            } else {
                let unknown: Ident = input.parse()?;
                return Err(Diagnostics::unknown_keyword_error(
                    &unknown,
                    "state flag",
                    FLAGS,
                ));
            }
        }
        let name = input.parse()?;
        input.parse::<Token![=]>()?;
        let wire_name = input.parse()?;
        let mut state = StateDecl {
            attrs,
            flags,
            name,
            wire_name,
            aliases: Vec::new(),
            requires: Vec::new(),
            verb: None,
            arrow: None,
            next: Vec::new(),
            recovered: Vec::new(),
        };
        if input.peek(syn::token::Paren) {
            let options;
            parenthesized!(options in input);
            if let Err(error) = state.parse_options(&options) {
                // Leaving tokens in the parentheses would make syn report "unexpected
                // token" in place of this error once the line is skipped.
                options.parse::<TokenStream>()?;
                return Err(error);
            }
        }
        if input.peek(Token![->]) {
            state.arrow = Some(input.parse()?);
            let next = Punctuated::<Ident, Token![|]>::parse_separated_nonempty(input)?;
            state.next = next.into_iter().collect();
        }
        Ok(state)
    }
}

impl StateDecl {
    /// `aliases "a", "b"`, `requires field, field` and `verb name`, separated by `;`.
    fn parse_options(&mut self, input: ParseStream<'_>) -> syn::Result<()> {
        while !input.is_empty() {
            let lookahead = input.lookahead1();
            if lookahead.peek(kw::aliases) {
                input.parse::<kw::aliases>()?;
                loop {
                    self.aliases.push(input.parse()?);
                    if !(input.peek(Token![,]) && input.peek2(LitStr)) {
                        break;
                    }
                    input.parse::<Token![,]>()?;
                }
            } else if lookahead.peek(kw::requires) {
                input.parse::<kw::requires>()?;
                loop {
                    self.requires.push(input.parse()?);
                    let more = input.peek(Token![,])
                        && input.peek2(Ident)
                        && !input.peek2(kw::aliases)
                        && !input.peek2(kw::requires)
                        && !input.peek2(kw::verb);
                    if !more {
                        break;
                    }
                    input.parse::<Token![,]>()?;
                }
            } else if lookahead.peek(kw::verb) {
                input.parse::<kw::verb>()?;
                self.verb = Some(input.parse()?);
            } else if input.peek(Ident) {
                let unknown: Ident = input.parse()?;
                return Err(Diagnostics::unknown_keyword_error(
                    &unknown,
                    "state option",
                    OPTIONS,
                ));
            } else {
                return Err(lookahead.error());
            }
            if !input.is_empty() {
                if input.peek(Token![;]) {
                    input.parse::<Token![;]>()?;
                } else if input.peek(Token![,]) {
                    // One separator, as documented: `,` separates the names inside an
                    // option (`aliases "a", "b"`), `;` the options.
                    let comma = input.parse::<Token![,]>()?;
                    self.recovered.push(syn::Error::new(
                        comma.span,
                        "state options are separated by `;` (`aliases \"a\", \"b\"; verb x`); `,` separates the names inside one option",
                    ));
                } else {
                    return Err(input.error("expected `;` between state options"));
                }
            }
        }
        Ok(())
    }
}

impl Parse for FieldDecl {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let name = input.parse()?;
        input.parse::<Token![:]>()?;
        let ty = input.parse()?;
        let wire_name = if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            Some(input.parse()?)
        } else {
            None
        };
        Ok(FieldDecl {
            attrs,
            name,
            ty,
            wire_name,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_state_in_every_form() {
        let cases: &[(&str, usize, usize, usize, usize)] = &[
            // (source, flags, aliases, requires, next)
            (r#"Accepted = "accepted" -> Started | Rejected"#, 0, 0, 0, 2),
            (r#"initial Offered = "offered" -> Accepted"#, 1, 0, 0, 1),
            (
                r#"terminal TimedOut = "timedout" (aliases "timed out", "timedOut")"#,
                1,
                2,
                0,
                0,
            ),
            (
                r#"end Errored = "errored" (requires error_message)"#,
                1,
                0,
                1,
                0,
            ),
            (
                r#"end Errored = "errored" (aliases "error"; requires error_message, error_code; verb fail)"#,
                1,
                1,
                2,
                0,
            ),
            (r#"initial terminal Only = "only""#, 2, 0, 0, 0),
        ];
        for &(source, flags, aliases, requires, next) in cases {
            let state: StateDecl =
                syn::parse_str(source).unwrap_or_else(|e| panic!("{source}: {e}"));
            assert_eq!(state.flags.len(), flags, "{source}");
            assert_eq!(state.aliases.len(), aliases, "{source}");
            assert_eq!(state.requires.len(), requires, "{source}");
            assert_eq!(state.next.len(), next, "{source}");
        }
    }

    #[test]
    fn rejects_unknown_flags_and_options_by_name() {
        let cases = [
            (
                r#"intial Offered = "offered""#,
                "expected one of `initial`, `terminal`, `end`",
            ),
            (
                r#"Offered = "offered" (alias "x")"#,
                "did you mean `aliases`?",
            ),
        ];
        for (source, message) in cases {
            let error = syn::parse_str::<StateDecl>(source)
                .err()
                .expect(source)
                .to_string();
            assert!(error.contains(message), "{source}: {error}");
        }
    }

    #[test]
    fn parses_fields_with_and_without_wire_names() {
        let field: FieldDecl =
            syn::parse_str(r#"conversation_id: Option<Uuid> = "conversationId""#).unwrap();
        assert_eq!(field.wire_name.unwrap().value(), "conversationId");
        let field: FieldDecl = syn::parse_str("page_url: String").unwrap();
        assert!(field.wire_name.is_none());
    }
}
