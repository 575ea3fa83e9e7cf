//! Stage 4, second half: the typestate API, where an illegal transition does not compile.
//!
//! For `WebChat` it generates a module `web_chat` of zero-sized state markers and a trait
//! `web_chat::Transition<To>` implemented for each declared transition, the action type
//! `WebChatAction<S>` (the current state's event, plus the marker), one constructor on
//! `WebChat` per initial state, and on `WebChatAction<S>` one method per state that can be
//! stepped into, callable where `S: Transition<Target>`. A method into a state that ends
//! the lifecycle consumes the action and returns the last event, so nothing can follow it.

use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};

use crate::model::{setter_name, Field, Model, Requirement, State};

pub(crate) fn expand(model: &Model, krate: &TokenStream) -> TokenStream {
    let p = quote!(#krate::__private);
    let Model {
        vis,
        name,
        event_name,
        wire_name,
        ..
    } = model;
    let markers = marker_module(model, &p);
    let module = &model.module;
    let action = format_ident!("{}Action", name);
    let action_doc = Literal::string(&format!(
        "An action of media type `{wire_name}` in state `S` (a marker from [`{module}`]): \
         it holds the event of that state, and has one method per transition the declaration \
         allows from it. Start one with an initial state's constructor on [`{name}`]."
    ));
    let setters = model.fields.iter().map(|field| setter(field, &p));
    let constructors = model
        .states
        .iter()
        .filter(|s| s.initial && s.has_method)
        .map(|state| constructor(model, state, &action, &p));
    // One method per state that can be stepped into, on every `Action<S>`, bounded by
    // `S: Transition<Target>`: calling it from a state that may not go there is then an
    // unsatisfied bound, whose message (`on_unimplemented`) names the missing transition
    // and lists the declared ones, rather than "no method named ...".
    let methods = model
        .states
        .iter()
        .enumerate()
        .filter(|(i, to)| to.has_method && model.states.iter().any(|s| s.next.contains(i)))
        .map(|(i, to)| transition(model, i, to, &p));
    quote! {
        #markers

        #[doc = #action_doc]
        // Not `Clone`: a clone would fork one lifecycle into two that each go on (and the
        // same action would, say, both engage and abandon). Copy the event instead.
        #[derive(#p::core::fmt::Debug, #p::core::cmp::PartialEq)]
        #vis struct #action<S> {
            __events_event: #event_name,
            __events_state: #p::core::marker::PhantomData<S>,
        }

        impl<S> #action<S> {
            /// The event of the state this action is in, ready to emit or serialize.
            pub fn event(&self) -> &#event_name {
                &self.__events_event
            }

            /// The event's fields this declaration does not know (enrichment such as a
            /// page URL), to set before emitting it; they carry over to later states. The
            /// state and the ids cannot be changed here: the type says the state.
            pub fn extra_mut(&mut self) -> &mut #p::serde_json::Map<#p::std::string::String, #p::serde_json::Value> {
                &mut self.__events_event.extra
            }

            #(#setters)*

            /// The event of the state this action is in, giving up the action.
            pub fn into_event(self) -> #event_name {
                self.__events_event
            }

            /// The state this action is in.
            pub fn state(&self) -> #name {
                self.__events_event.action_state
            }

            /// The next state's action: the same event, in `next`, with this state's error
            /// fields cleared.
            fn __events_step<T>(self, next: #name) -> #action<T> {
                let mut __events_event = self.__events_event;
                __events_event.action_state = next;
                __events_event.error_code = #p::core::option::Option::None;
                __events_event.error_message = #p::core::option::Option::None;
                #action { __events_event, __events_state: #p::core::marker::PhantomData }
            }
        }

        impl #name {
            #(#constructors)*
        }

        impl<S> #action<S> {
            #(#methods)*
        }
    }
}

fn marker_module(model: &Model, p: &TokenStream) -> TokenStream {
    let Model {
        vis,
        name,
        wire_name,
        ..
    } = model;
    let module = &model.module;
    let module_doc = Literal::string(&format!(
        "The states of media type `{wire_name}` as zero-sized types, for the typestate API \
         (`{name}Action<S>`)."
    ));
    let markers = model.states.iter().map(|state| {
        let marker = &state.name;
        let doc = Literal::string(&format!(
            "An action of media type `{wire_name}` in state `{}` ([`{name}::{marker}`](super::{name}::{marker})).",
            state.wire_name
        ));
        quote! {
            #[doc = #doc]
            #[derive(
                #p::core::clone::Clone, #p::core::marker::Copy, #p::core::fmt::Debug,
                #p::core::default::Default, #p::core::cmp::PartialEq, #p::core::cmp::Eq,
                #p::core::hash::Hash,
            )]
            pub struct #marker;
        }
    });
    let table = model
        .states
        .iter()
        .filter(|s| !s.next.is_empty())
        .map(|s| {
            let next: Vec<&str> = s
                .next
                .iter()
                .map(|&i| &*model.states[i].wire_name)
                .collect();
            format!("{} -> {}", s.wire_name, next.join(" | "))
        })
        .collect::<Vec<_>>()
        .join("; ");
    let message = Literal::string(&format!(
        "`{{Self}}` cannot go to `{{To}}`: media type `{wire_name}` declares no such transition"
    ));
    let note = Literal::string(&format!("the transitions `{wire_name}` declares: {table}"));
    let transition = transition_trait(model);
    let transition = &transition;
    let impls = model.states.iter().flat_map(move |from| {
        let from_marker = &from.name;
        from.next.iter().map(move |&to| {
            let to_marker = &model.states[to].name;
            quote!(impl #transition<#to_marker> for #from_marker {})
        })
    });
    quote! {
        #[doc = #module_doc]
        #vis mod #module {
            #(#markers)*

            /// That an action in state `Self` may step into state `To`: implemented for
            /// each declared transition, so an undeclared step does not compile.
            #[diagnostic::on_unimplemented(
                message = #message,
                label = "not a declared transition",
                note = #note,
            )]
            pub trait #transition<To> {}

            #(#impls)*
        }
    }
}

/// The arguments a step into `state` takes (the fields it requires, as their inner
/// types), and the assignments that store them in the event.
fn requirements(
    model: &Model,
    state: &State,
    p: &TokenStream,
) -> (Vec<TokenStream>, Vec<TokenStream>) {
    let mut params = Vec::new();
    let mut assigns = Vec::new();
    for requirement in &state.requires {
        let (field, ty, value) = match requirement {
            Requirement::Documented {
                rust_name: "error_code",
                ..
            } => {
                let field = format_ident!("error_code");
                (
                    field.clone(),
                    quote!(impl #p::core::convert::Into<i64>),
                    quote!(#p::core::option::Option::Some(#p::core::convert::Into::into(#field))),
                )
            }
            Requirement::Documented { rust_name, .. } => {
                let field = format_ident!("{}", rust_name);
                let ty = quote!(impl #p::core::convert::Into<#p::std::string::String>);
                let value =
                    quote!(#p::core::option::Option::Some(#p::core::convert::Into::into(#field)));
                (field, ty, value)
            }
            Requirement::Declared(i) => {
                let field = &model.fields[*i];
                let name = field.name.clone();
                let inner = &field.value_ty;
                (
                    name.clone(),
                    quote!(impl #p::core::convert::Into<#inner>),
                    quote!(#p::core::option::Option::Some(#p::core::convert::Into::into(#name))),
                )
            }
        };
        params.push(quote!(#field: #ty));
        assigns.push(quote!(__events_event.#field = #value;));
    }
    (params, assigns)
}

fn constructor(model: &Model, state: &State, action: &Ident, p: &TokenStream) -> TokenStream {
    let Model {
        name, event_name, ..
    } = model;
    let module = &model.module;
    let marker = &state.name;
    let verb = &state.verb;
    // Fields every event carries must be given at the start; they carry over from there.
    let always: Vec<&Field> = model.fields.iter().filter(|f| !f.optional).collect();
    let always_names: Vec<_> = always.iter().map(|f| &f.name).collect();
    let always_types = always.iter().map(|f| {
        let ty = &f.ty;
        quote!(impl #p::core::convert::Into<#ty>)
    });
    let optional = model.fields.iter().filter(|f| f.optional).map(|f| &f.name);
    let (params, assigns) = requirements(model, state, p);
    let mutable = if assigns.is_empty() {
        quote!()
    } else {
        quote!(mut)
    };
    let mut arguments = vec!["the action's ids".to_owned()];
    arguments.extend(
        always
            .iter()
            .map(|f| format!("`{}` (`{}`)", f.name, f.wire_name.as_str())),
    );
    arguments.extend(required_arguments(model, state));
    let doc = Literal::string(&format!(
        "Starts an action in its initial state `{}` and returns it, holding that state's event.\n\nArguments, in order: {}.",
        state.wire_name,
        arguments.join(", ")
    ));
    let (returns, finish) = if state.kind.ends() {
        (quote!(#event_name), quote!(__events_event))
    } else {
        (
            quote!(#action<#module::#marker>),
            quote!(#action { __events_event, __events_state: #p::core::marker::PhantomData }),
        )
    };
    quote! {
        #[doc = #doc]
        #[allow(clippy::too_many_arguments)]
        pub fn #verb(
            __events_ids: #p::ActionIds,
            #(#always_names: #always_types,)*
            #(#params),*
        ) -> #returns {
            let #mutable __events_event = #event_name {
                action_id: __events_ids.action_id,
                action_state: #name::#marker,
                action_map_id: __events_ids.action_map_id,
                action_map_version: __events_ids.action_map_version,
                customer_id: __events_ids.customer_id,
                customer_id_type: __events_ids.customer_id_type,
                session_id: __events_ids.session_id,
                error_code: #p::core::option::Option::None,
                error_message: #p::core::option::Option::None,
                #(#optional: #p::core::option::Option::None,)*
                #(#always_names: #p::core::convert::Into::into(#always_names),)*
                extra: #p::serde_json::Map::new(),
            };
            #(#assigns)*
            #finish
        }
    }
}

fn transition(model: &Model, index: usize, to: &State, p: &TokenStream) -> TokenStream {
    let Model {
        name, event_name, ..
    } = model;
    let module = &model.module;
    let action = format_ident!("{}Action", name);
    let verb = &to.verb;
    let target = &to.name;
    let (params, assigns) = requirements(model, to, p);
    let mutable = if assigns.is_empty() {
        quote!()
    } else {
        quote!(mut)
    };
    let store = if assigns.is_empty() {
        quote!()
    } else {
        quote!({
            let __events_event = &mut __events_next.__events_event;
            #(#assigns)*
        })
    };
    let step = quote! {
        let #mutable __events_next: #action<#module::#target> = self.__events_step(#name::#target);
        #store
    };
    let from: Vec<String> = model
        .states
        .iter()
        .filter(|s| s.next.contains(&index))
        .map(|s| format!("`{}`", s.wire_name))
        .collect();
    let arguments = required_arguments(model, to);
    let arguments = if arguments.is_empty() {
        String::new()
    } else {
        format!("\n\nArguments, in order: {}.", arguments.join(", "))
    };
    let transition = transition_trait(model);
    let bound = quote!(where S: #module::#transition<#module::#target>);
    if to.kind.ends() {
        let doc = Literal::string(&format!(
            "From {} to `{}`, which ends the lifecycle: consumes the action and returns its last event.{arguments}",
            from.join(" or "),
            to.wire_name
        ));
        quote! {
            #[doc = #doc]
            pub fn #verb(self, #(#params),*) -> #event_name #bound {
                #step
                __events_next.__events_event
            }
        }
    } else {
        let doc = Literal::string(&format!(
            "From {} to `{}`.{arguments}",
            from.join(" or "),
            to.wire_name
        ));
        quote! {
            #[doc = #doc]
            pub fn #verb(self, #(#params),*) -> #action<#module::#target> #bound {
                #step
                __events_next
            }
        }
    }
}

/// The fields a step into `state` takes as arguments, as the generated docs name them, in
/// the order of [`requirements`].
fn required_arguments(model: &Model, state: &State) -> Vec<String> {
    state
        .requires
        .iter()
        .map(|requirement| match requirement {
            Requirement::Documented {
                rust_name,
                wire_name,
            } => format!("`{rust_name}` (`{wire_name}`)"),
            Requirement::Declared(i) => {
                let field = &model.fields[*i];
                format!("`{}` (`{}`)", field.name, field.wire_name.as_str())
            }
        })
        .collect()
}

/// `set_<field>`: sets a declared field of the action's event; it carries over to later
/// states.
fn setter(field: &Field, p: &TokenStream) -> TokenStream {
    let name = &field.name;
    let value_ty = &field.value_ty;
    let value = if field.optional {
        quote!(#p::core::option::Option::Some(#p::core::convert::Into::into(#name)))
    } else {
        quote!(#p::core::convert::Into::into(#name))
    };
    let setter = format_ident!("{}", setter_name(name), span = name.span());
    let doc = Literal::string(&format!(
        "Sets `{}` (`{}`) of this action's event; it carries over to later states.",
        name,
        field.wire_name.as_str()
    ));
    quote! {
        #[doc = #doc]
        pub fn #setter(&mut self, #name: impl #p::core::convert::Into<#value_ty>) -> &mut Self {
            self.__events_event.#name = #value;
            self
        }
    }
}

/// The name of the typestate module's transition trait: `Transition`, unless a state (a
/// marker in the same module) already has that name.
fn transition_trait(model: &Model) -> Ident {
    let taken = |name: &str| model.states.iter().any(|s| s.name == name);
    let name = ["Transition", "TransitionTo", "StepTo"]
        .into_iter()
        .find(|name| !taken(name))
        .unwrap_or("__EventsTransition");
    Ident::new(name, proc_macro2::Span::call_site())
}
