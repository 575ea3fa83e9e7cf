//! Stage 4: the code a declaration generates, from the model alone.
//!
//! Generated code names the runtime through `#krate::__private` only, spells std items in
//! full, and prefixes its locals with `__events_`, so it compiles in any crate whatever that
//! crate shadows (`Result`, `Option`, `String`, ...).

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use crate::model::{doc_text, Field, Kind, Model, Requirement};

pub(crate) fn expand(model: &Model, krate: &TokenStream) -> TokenStream {
    let state_enum = state_enum(model, krate);
    let event_struct = event_struct(model, krate);
    let typestate = crate::typestate::expand(model, krate);
    quote! {
        #state_enum
        #event_struct
        #typestate
    }
}

fn state_enum(model: &Model, krate: &TokenStream) -> TokenStream {
    let p = quote!(#krate::__private);
    let Model {
        vis,
        name,
        wire_name,
        ..
    } = model;
    let docs = &model.docs;
    let table = Literal::string(&lifecycle_docs(model));
    let variants = model.states.iter().map(|state| {
        let docs = &state.docs;
        let ident = &state.name;
        let note = Literal::string(&state_note(model, state));
        quote!(#(#docs)* #[doc = ""] #[doc = #note] #ident)
    });
    let names: Vec<_> = model.states.iter().map(|s| &s.name).collect();
    let count = names.len();
    let indices = (0..count).map(Literal::usize_unsuffixed);
    let wires: Vec<_> = model
        .states
        .iter()
        .map(|s| Literal::string(&s.wire_name))
        .collect();
    let flag = |f: &dyn Fn(&crate::model::State) -> bool| -> Vec<TokenStream> {
        model
            .states
            .iter()
            .map(|s| if f(s) { quote!(true) } else { quote!(false) })
            .collect()
    };
    let initial = flag(&|s| s.initial);
    let terminal = flag(&|s| s.kind == Kind::Terminal);
    let ends = flag(&|s| s.kind.ends());
    let next_masks = model.states.iter().map(|s| {
        let mask = s.next.iter().fold(0u64, |mask, &i| mask | 1 << i);
        Literal::u64_unsuffixed(mask)
    });
    let successors = model.states.iter().map(|s| {
        let next = s.next.iter().map(|&i| &model.states[i].name);
        quote!(&[#(Self::#next),*])
    });
    let parse_arms = model.states.iter().map(|s| {
        let spellings = std::iter::once(&s.wire_name)
            .chain(&s.aliases)
            .map(|w| Literal::string(w));
        let ident = &s.name;
        quote!(#(#spellings)|* => Self::#ident)
    });
    let topic_checks = model.states.iter().enumerate().map(|(i, s)| {
        let spellings = std::iter::once(&s.wire_name)
            .chain(&s.aliases)
            .map(|w| Literal::string(w));
        let i = Literal::usize_unsuffixed(i);
        quote! {
            if #(#p::str_eq(__events_state, #spellings))||* {
                return #p::Topic::state(Self::DESCRIPTION, #i);
            }
        }
    });
    let expected = model
        .states
        .iter()
        .map(|s| format!("{}, ", s.wire_name))
        .collect::<String>();
    let topic_panic = Literal::string(&format!(
        "unknown state in a `{wire_name}` topic; expected one of: {expected}all"
    ));
    // Const evaluation cannot format a message, so there is one per suggestion, picked by
    // the index `closest_index` finds.
    let topic_spellings: Vec<&str> = model
        .states
        .iter()
        .flat_map(|s| std::iter::once(&s.wire_name).chain(&s.aliases))
        .map(|spelling| spelling.as_str())
        .chain([events_spec::ALL_STATES])
        .collect();
    let topic_suggestions = topic_spellings.iter().map(|spelling| {
        Literal::string(&format!(
            "unknown state in a `{wire_name}` topic; did you mean `{spelling}`? \
             expected one of: {expected}all"
        ))
    });
    let description = description(model, &p);
    let wire = Literal::string(wire_name);
    let event_name = &model.event_name;
    let all_states = events_spec::ALL_STATES;
    quote! {
        #(#docs)*
        #[doc = ""]
        #[doc = #table]
        #[derive(
            #p::core::clone::Clone, #p::core::marker::Copy, #p::core::fmt::Debug,
            #p::core::cmp::PartialEq, #p::core::cmp::Eq, #p::core::hash::Hash,
            #p::core::cmp::PartialOrd, #p::core::cmp::Ord,
        )]
        #vis enum #name {
            #(#variants,)*
        }

        impl #name {
            /// Every state, in declaration order.
            pub const ALL: [Self; #count] = [#(Self::#names),*];

            /// Everything this media type's declaration says, as static data.
            pub const DESCRIPTION: &'static #p::MediaTypeDescription = &#description;

            /// The media type's wire name, the `actionMediaType` of its events.
            pub const WIRE_NAME: &'static str = #wire;

            #[doc = "Bit `j` of entry `i` says whether state `j` may follow state `i`."]
            const __EVENTS_NEXT: [u64; #count] = [#(#next_masks),*];

            /// The state's position in [`ALL`](Self::ALL).
            pub const fn index(self) -> usize {
                match self { #(Self::#names => #indices,)* }
            }

            /// The wire name, as written in `actionState`.
            pub const fn as_str(self) -> &'static str {
                match self { #(Self::#names => #wires,)* }
            }

            /// Whether an action's lifecycle may start in this state.
            pub const fn is_initial(self) -> bool {
                match self { #(Self::#names => #initial,)* }
            }

            /// Whether this state is terminal in the vendor's sense: nothing follows, and the
            /// same action map does not offer the same thing to the visitor again.
            pub const fn is_terminal(self) -> bool {
                match self { #(Self::#names => #terminal,)* }
            }

            /// Whether no event follows this state: true for terminal states and for states
            /// that end the lifecycle without being terminal (such as `errored`).
            pub const fn is_end(self) -> bool {
                match self { #(Self::#names => #ends,)* }
            }

            /// Whether `next` may directly follow this state. A table lookup.
            pub const fn can_transition_to(self, next: Self) -> bool {
                (Self::__EVENTS_NEXT[self.index()] >> next.index()) & 1 == 1
            }

            /// The states that may directly follow this one, in declaration order.
            pub const fn successors(self) -> &'static [Self] {
                match self { #(Self::#names => #successors,)* }
            }

            /// The topic `"<mediaType>:<state>"` (or `"<mediaType>:all"`) for a state's wire
            /// name or alias, for a `const` (or `topic!`), where an unknown state is a
            /// compile error. For a state known only at run time use `try_topic`.
            ///
            /// # Panics
            /// When `state` is neither `all` nor a state's wire name or alias (outside a
            /// `const`, that is at run time).
            // The compile error then points at the caller's literal, not into the macro.
            #[track_caller]
            pub const fn topic(__events_state: &str) -> #p::Topic {
                if #p::str_eq(__events_state, #all_states) {
                    return #p::Topic::all(Self::DESCRIPTION);
                }
                #(#topic_checks)*
                let __events_suggestions: &[&str] = &[#(#topic_suggestions),*];
                match #p::closest_index(__events_state, &[#(#topic_spellings),*]) {
                    #p::core::option::Option::Some(__events_closest) => {
                        #p::core::panic!("{}", __events_suggestions[__events_closest])
                    }
                    #p::core::option::Option::None => #p::core::panic!(#topic_panic),
                }
            }
        }

        impl #name {
            /// The topic for a state's wire name or alias (or `all`) known only at run
            /// time; an unknown state is an error with a "did you mean" suggestion.
            pub fn try_topic(__events_state: &str) -> #p::core::result::Result<#p::Topic, #p::TopicError> {
                #p::Topic::of_state(Self::DESCRIPTION, __events_state)
            }
        }

        impl #p::core::fmt::Display for #name {
            fn fmt(&self, __events_f: &mut #p::core::fmt::Formatter<'_>) -> #p::core::fmt::Result {
                __events_f.write_str(self.as_str())
            }
        }

        impl #p::core::str::FromStr for #name {
            type Err = #p::UnknownState;

            fn from_str(__events_name: &str) -> #p::core::result::Result<Self, Self::Err> {
                #p::core::result::Result::Ok(match __events_name {
                    #(#parse_arms,)*
                    _ => return #p::core::result::Result::Err(
                        #p::UnknownState::new(Self::DESCRIPTION, __events_name),
                    ),
                })
            }
        }

        impl #p::serde::Serialize for #name {
            fn serialize<__EventsS: #p::serde::Serializer>(
                &self,
                __events_serializer: __EventsS,
            ) -> #p::core::result::Result<__EventsS::Ok, __EventsS::Error> {
                __events_serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> #p::serde::Deserialize<'de> for #name {
            fn deserialize<__EventsD: #p::serde::Deserializer<'de>>(
                __events_deserializer: __EventsD,
            ) -> #p::core::result::Result<Self, __EventsD::Error> {
                let __events_name =
                    <#p::std::borrow::Cow<'de, str> as #p::serde::Deserialize>::deserialize(__events_deserializer)?;
                <Self as #p::core::str::FromStr>::from_str(&__events_name)
                    .map_err(<__EventsD::Error as #p::serde::de::Error>::custom)
            }
        }

        impl #p::MediaType for #name {
            type Event = #event_name;
            const DESCRIPTION: &'static #p::MediaTypeDescription = #name::DESCRIPTION;
            const ALL: &'static [Self] = &#name::ALL;
            fn index(self) -> usize { #name::index(self) }
            fn as_str(self) -> &'static str { #name::as_str(self) }
            fn parse(__events_name: &str) -> #p::core::result::Result<Self, #p::UnknownState> {
                <Self as #p::core::str::FromStr>::from_str(__events_name)
            }
            fn is_initial(self) -> bool { #name::is_initial(self) }
            fn is_terminal(self) -> bool { #name::is_terminal(self) }
            fn is_end(self) -> bool { #name::is_end(self) }
            fn can_transition_to(self, __events_next: Self) -> bool { #name::can_transition_to(self, __events_next) }
            fn successors(self) -> &'static [Self] { #name::successors(self) }
        }

        // Known to `Registry::all()` (and so to `Events::new()`, `Ingest`, the CLI and the
        // docs) without a registration call.
        #p::inventory::submit! {
            #p::Declared::new(#p::MediaTypeEntry::of::<#name>)
        }
    }
}

/// The `MediaTypeDescription` literal.
fn description(model: &Model, p: &TokenStream) -> TokenStream {
    let rust_name = Literal::string(&model.name.to_string());
    let wire_name = Literal::string(&model.wire_name);
    let docs = Literal::string(&doc_text(&model.docs));
    let version = Literal::u32_unsuffixed(model.version);
    let states = model.states.iter().map(|s| {
        let rust_name = Literal::string(&s.name.to_string());
        let wire_name = Literal::string(&s.wire_name);
        let aliases = s.aliases.iter().map(|a| Literal::string(a));
        let docs = Literal::string(&doc_text(&s.docs));
        let initial = s.initial;
        let kind = match s.kind {
            Kind::Open => quote!(Open),
            Kind::Terminal => quote!(Terminal),
            Kind::End => quote!(End),
        };
        let next = s.next.iter().map(|&i| Literal::usize_unsuffixed(i));
        let requires = s
            .requires
            .iter()
            .map(|r| Literal::string(requirement_wire_name(model, r)));
        quote! {
            #p::StateDescription {
                rust_name: #rust_name,
                wire_name: #wire_name,
                aliases: &[#(#aliases),*],
                docs: #docs,
                initial: #initial,
                kind: #p::StateKind::#kind,
                next: &[#(#next),*],
                requires: &[#(#requires),*],
            }
        }
    });
    let fields = model.fields.iter().map(|f| {
        let rust_name = Literal::string(&f.name.to_string());
        let wire_name = Literal::string(&f.wire_name);
        let docs = Literal::string(&doc_text(&f.docs));
        let json_type = &f.json_type;
        let required = !f.optional;
        quote! {
            #p::FieldDescription {
                rust_name: #rust_name,
                wire_name: #wire_name,
                docs: #docs,
                json_type: #p::JsonType::#json_type,
                required: #required,
                documented: false,
            }
        }
    });
    quote! {
        #p::MediaTypeDescription {
            rust_name: #rust_name,
            wire_name: #wire_name,
            docs: #docs,
            version: #version,
            states: &[#(#states),*],
            fields: &[#(#fields),*],
        }
    }
}

/// Where an error about a field's type belongs: at the type as written, with the macro's
/// own hygiene (the type's tokens come through the wrapper macro in the user's, where the
/// generated locals would not resolve).
fn at_field_type(field: &Field) -> proc_macro2::Span {
    proc_macro2::Span::call_site().located_at(field.ty.span())
}

fn requirement_wire_name<'a>(model: &'a Model, requirement: &'a Requirement) -> &'a str {
    match requirement {
        Requirement::Documented { wire_name, .. } => wire_name,
        Requirement::Declared(i) => &model.fields[*i].wire_name,
    }
}

fn event_struct(model: &Model, krate: &TokenStream) -> TokenStream {
    let p = quote!(#krate::__private);
    let Model {
        vis,
        name,
        event_name,
        wire_name,
        ..
    } = model;
    let struct_doc = Literal::string(&format!(
        "An event of media type `{wire_name}`: the ten documented fields, the fields [`{name}`] declares, and every other field it came with (kept in [`extra`](Self::extra) and written back out)."
    ));
    let field_defs = model.fields.iter().map(|f| {
        let Field { docs, name, ty, .. } = f;
        let wire = Literal::string(&format!("Wire name `{}`.", f.wire_name));
        quote!(#(#docs)* #[doc = ""] #[doc = #wire] pub #name: #ty)
    });
    let field_names: Vec<_> = model.fields.iter().map(|f| &f.name).collect();
    let take_fields = model.fields.iter().map(|f| {
        let Field { name, ty, .. } = f;
        let wire = Literal::string(&f.wire_name);
        let local = format_ident!("__events_field_{}", name);
        // Spanned at the field's type: a type without serde impls gets its error there,
        // not on the whole invocation (as serde_derive does).
        let take = quote_spanned!(at_field_type(f)=> __events_raw.take_field::<#ty>(#wire));
        if f.optional {
            quote!(let #local: #ty = #take?.unwrap_or_default();)
        } else {
            quote! {
                let #local: #ty = #take?.ok_or(
                    #p::EventError::MissingField { field: #wire, state: #p::core::option::Option::None },
                )?;
            }
        }
    });
    let field_locals = model
        .fields
        .iter()
        .map(|f| format_ident!("__events_field_{}", f.name));
    let requirement_checks = model
        .states
        .iter()
        .filter(|s| !s.requires.is_empty())
        .map(|s| {
            let state = &s.name;
            let state_wire = Literal::string(&s.wire_name);
            let checks = s.requires.iter().map(|r| {
                let (present, wire) = match r {
                    Requirement::Documented {
                        rust_name,
                        wire_name,
                    } => {
                        let field = format_ident!("{}", rust_name);
                        (quote!(__events_raw.#field.is_some()), *wire_name)
                    }
                    Requirement::Declared(i) => {
                        let field = &model.fields[*i];
                        let local = format_ident!("__events_field_{}", field.name);
                        (quote!(#local.is_some()), field.wire_name.as_str())
                    }
                };
                let wire = Literal::string(wire);
                quote! {
                    if !(#present) {
                        return #p::core::result::Result::Err(#p::EventError::MissingField {
                            field: #wire,
                            state: #p::core::option::Option::Some(#state_wire),
                        });
                    }
                }
            });
            quote!(#name::#state => { #(#checks)* })
        });
    let serialize_fields = model.fields.iter().map(|f| {
        let field = &f.name;
        let wire = Literal::string(&f.wire_name);
        let at_type = at_field_type(f);
        if f.optional {
            let entry =
                quote_spanned!(at_type=> __events_map.serialize_entry(#wire, __events_value));
            quote! {
                if let #p::core::option::Option::Some(__events_value) = &self.#field {
                    #entry?;
                }
            }
        } else {
            let entry = quote_spanned!(at_type=> __events_map.serialize_entry(#wire, &self.#field));
            quote!(#entry?;)
        }
    });
    let append_json = append_json(model, &p);
    let wire = Literal::string(wire_name);
    quote! {
        #[doc = #struct_doc]
        #[derive(#p::core::clone::Clone, #p::core::fmt::Debug, #p::core::cmp::PartialEq)]
        #vis struct #event_name {
            /// `actionId`: this action (one offer to one visitor).
            pub action_id: #p::uuid::Uuid,
            /// `actionState`: the state this event reports.
            pub action_state: #name,
            /// `actionMapId`: the action map that qualified or triggered the action.
            pub action_map_id: #p::uuid::Uuid,
            /// `actionMapVersion`: the version of that action map.
            pub action_map_version: u32,
            /// `customerId`: the stable visitor id (a cookie id).
            pub customer_id: #p::uuid::Uuid,
            /// `customerIdType`: the kind of customer id; `cookie` today.
            pub customer_id_type: #p::CustomerIdType,
            /// `sessionId`: the visitor's current web session.
            pub session_id: #p::uuid::Uuid,
            /// `errorCode`: the status code of an exception caught while presenting the action.
            pub error_code: #p::core::option::Option<i64>,
            /// `errorMessage`: the message of that exception.
            pub error_message: #p::core::option::Option<#p::std::string::String>,
            #(#field_defs,)*
            /// Every field neither documented nor declared, in the order it came; written
            /// back out unchanged, so nothing a sender put in an event is lost.
            pub extra: #p::serde_json::Map<#p::std::string::String, #p::serde_json::Value>,
        }

        impl #p::Event for #event_name {
            type MediaType = #name;

            fn from_raw(
                mut __events_raw: #p::RawEvent<'_>,
            ) -> #p::core::result::Result<Self, #p::EventError> {
                if __events_raw.media_type != #wire {
                    return #p::core::result::Result::Err(#p::EventError::WrongMediaType {
                        expected: #wire,
                        found: #p::std::string::ToString::to_string(&__events_raw.media_type),
                    });
                }
                let __events_state = <#name as #p::core::str::FromStr>::from_str(&__events_raw.state)?;
                #(#take_fields)*
                #[allow(clippy::match_single_binding)]
                match __events_state {
                    #(#requirement_checks)*
                    _ => {}
                }
                #p::core::result::Result::Ok(#event_name {
                    action_id: __events_raw.action_id,
                    action_state: __events_state,
                    action_map_id: __events_raw.action_map_id,
                    action_map_version: __events_raw.action_map_version,
                    customer_id: __events_raw.customer_id,
                    customer_id_type: __events_raw.customer_id_type,
                    session_id: __events_raw.session_id,
                    error_code: __events_raw.error_code,
                    error_message: __events_raw.error_message,
                    #(#field_names: #field_locals,)*
                    extra: __events_raw.rest,
                })
            }

            fn state(&self) -> #name { self.action_state }
            fn action_id(&self) -> #p::uuid::Uuid { self.action_id }
            fn action_map_id(&self) -> #p::uuid::Uuid { self.action_map_id }
            fn action_map_version(&self) -> u32 { self.action_map_version }
            fn customer_id(&self) -> #p::uuid::Uuid { self.customer_id }
            fn customer_id_type(&self) -> &#p::CustomerIdType { &self.customer_id_type }
            fn session_id(&self) -> #p::uuid::Uuid { self.session_id }
            fn error_code(&self) -> #p::core::option::Option<i64> { self.error_code }
            fn error_message(&self) -> #p::core::option::Option<&str> { self.error_message.as_deref() }
            fn extra(&self) -> &#p::serde_json::Map<#p::std::string::String, #p::serde_json::Value> { &self.extra }
            fn extra_mut(&mut self) -> &mut #p::serde_json::Map<#p::std::string::String, #p::serde_json::Value> { &mut self.extra }

            fn __bus_local() -> #p::core::option::Option<&'static #p::std::thread::LocalKey<#p::TypedLocal<Self>>>
            where
                Self: #p::LocalCopies,
            {
                #p::std::thread_local! {
                    static __EVENTS_BUS_LOCAL: #p::TypedLocal<#event_name> = const { #p::TypedLocal::new() };
                }
                #p::core::option::Option::Some(&__EVENTS_BUS_LOCAL)
            }
            #append_json
        }

        impl #p::serde::Serialize for #event_name {
            fn serialize<__EventsS: #p::serde::Serializer>(
                &self,
                __events_serializer: __EventsS,
            ) -> #p::core::result::Result<__EventsS::Ok, __EventsS::Error> {
                use #p::serde::ser::SerializeMap as _;
                let mut __events_map = __events_serializer.serialize_map(#p::core::option::Option::None)?;
                __events_map.serialize_entry("actionId", &self.action_id)?;
                __events_map.serialize_entry("actionState", &self.action_state)?;
                __events_map.serialize_entry("actionMediaType", #wire)?;
                __events_map.serialize_entry("actionMapId", &self.action_map_id)?;
                __events_map.serialize_entry("actionMapVersion", &self.action_map_version)?;
                __events_map.serialize_entry("customerId", &self.customer_id)?;
                __events_map.serialize_entry("customerIdType", &self.customer_id_type)?;
                __events_map.serialize_entry("sessionId", &self.session_id)?;
                if let #p::core::option::Option::Some(__events_value) = &self.error_code {
                    __events_map.serialize_entry("errorCode", __events_value)?;
                }
                if let #p::core::option::Option::Some(__events_value) = &self.error_message {
                    __events_map.serialize_entry("errorMessage", __events_value)?;
                }
                #(#serialize_fields)*
                for (__events_key, __events_value) in &self.extra {
                    __events_map.serialize_entry(__events_key, __events_value)?;
                }
                __events_map.end()
            }
        }

        impl<'de> #p::serde::Deserialize<'de> for #event_name {
            fn deserialize<__EventsD: #p::serde::Deserializer<'de>>(
                __events_deserializer: __EventsD,
            ) -> #p::core::result::Result<Self, __EventsD::Error> {
                let __events_raw = <#p::RawEvent<'de> as #p::serde::Deserialize<'de>>::deserialize(__events_deserializer)?;
                <Self as #p::Event>::from_raw(__events_raw)
                    .map_err(<__EventsD::Error as #p::serde::de::Error>::custom)
            }
        }
    }
}

/// `Event::append_json`: the bytes the `Serialize` impl above writes through
/// `serde_json`, in the same order, with what is known when the declaration is expanded
/// (field names, state and media type wire names) written as ready JSON and the ids
/// written without serde; the other values go through `serde_json` one by one.
fn append_json(model: &Model, p: &TokenStream) -> TokenStream {
    let name = &model.name;
    // A name and what follows it: `,"name":`, the first without its comma.
    let key = |first: bool, wire: &str| {
        let comma = if first { "{" } else { "," };
        Literal::byte_string(format!("{comma}{}:", json_string(wire)).as_bytes())
    };
    let state_arms = model.states.iter().map(|s| {
        let ident = &s.name;
        let json = Literal::byte_string(json_string(&s.wire_name).as_bytes());
        quote!(#name::#ident => #json)
    });
    let action_id = key(true, "actionId");
    let action_state = key(false, "actionState");
    let media_type_and_map_id = Literal::byte_string(
        format!(
            ",\"actionMediaType\":{},\"actionMapId\":",
            json_string(&model.wire_name)
        )
        .as_bytes(),
    );
    let [map_version, customer_id, customer_id_type, session_id, error_code, error_message] = [
        "actionMapVersion",
        "customerId",
        "customerIdType",
        "sessionId",
        "errorCode",
        "errorMessage",
    ]
    .map(|wire| key(false, wire));
    let declared = model.fields.iter().map(|f| {
        let field = &f.name;
        let key = key(false, &f.wire_name);
        let at_type = at_field_type(f);
        if f.optional {
            let value = quote_spanned!(at_type=> #p::serde_json::to_writer(&mut *__events_out, __events_value));
            quote! {
                if let #p::core::option::Option::Some(__events_value) = &self.#field {
                    __events_out.extend_from_slice(#key);
                    #value?;
                }
            }
        } else {
            let value = quote_spanned!(at_type=> #p::serde_json::to_writer(&mut *__events_out, &self.#field));
            quote! {
                __events_out.extend_from_slice(#key);
                #value?;
            }
        }
    });
    quote! {
        fn append_json(
            &self,
            __events_out: &mut #p::std::vec::Vec<u8>,
        ) -> #p::serde_json::Result<()> {
            __events_out.extend_from_slice(#action_id);
            #p::append_uuid_json(__events_out, &self.action_id);
            __events_out.extend_from_slice(#action_state);
            __events_out.extend_from_slice(match self.action_state { #(#state_arms,)* });
            __events_out.extend_from_slice(#media_type_and_map_id);
            #p::append_uuid_json(__events_out, &self.action_map_id);
            __events_out.extend_from_slice(#map_version);
            #p::serde_json::to_writer(&mut *__events_out, &self.action_map_version)?;
            __events_out.extend_from_slice(#customer_id);
            #p::append_uuid_json(__events_out, &self.customer_id);
            __events_out.extend_from_slice(#customer_id_type);
            #p::serde_json::to_writer(&mut *__events_out, &self.customer_id_type)?;
            __events_out.extend_from_slice(#session_id);
            #p::append_uuid_json(__events_out, &self.session_id);
            if let #p::core::option::Option::Some(__events_value) = &self.error_code {
                __events_out.extend_from_slice(#error_code);
                #p::serde_json::to_writer(&mut *__events_out, __events_value)?;
            }
            if let #p::core::option::Option::Some(__events_value) = &self.error_message {
                __events_out.extend_from_slice(#error_message);
                #p::serde_json::to_writer(&mut *__events_out, __events_value)?;
            }
            #(#declared)*
            for (__events_key, __events_value) in &self.extra {
                __events_out.push(b',');
                #p::serde_json::to_writer(&mut *__events_out, __events_key)?;
                __events_out.push(b':');
                #p::serde_json::to_writer(&mut *__events_out, __events_value)?;
            }
            __events_out.push(b'}');
            #p::core::result::Result::Ok(())
        }
    }
}

/// `text` as a JSON string, escaped as `serde_json` escapes it: `"` and `\`, the
/// control characters with their short escapes where JSON has one, `\u00xx` otherwise.
fn json_string(text: &str) -> String {
    let mut json = String::with_capacity(text.len() + 2);
    json.push('"');
    for c in text.chars() {
        match c {
            '"' => json.push_str("\\\""),
            '\\' => json.push_str("\\\\"),
            '\u{8}' => json.push_str("\\b"),
            '\t' => json.push_str("\\t"),
            '\n' => json.push_str("\\n"),
            '\u{c}' => json.push_str("\\f"),
            '\r' => json.push_str("\\r"),
            c if c < ' ' => json.push_str(&format!("\\u{:04x}", c as u32)),
            c => json.push(c),
        }
    }
    json.push('"');
    json
}

/// The lifecycle table and diagram on the state enum's docs.
fn lifecycle_docs(model: &Model) -> String {
    let mut doc = String::from("# Lifecycle\n\n| State | Wire name | Initial | Ends | Next states |\n|---|---|---|---|---|\n");
    for state in &model.states {
        let ends = match state.kind {
            Kind::Open => "—",
            Kind::Terminal => "terminal",
            Kind::End => "end (not terminal)",
        };
        let next = if state.next.is_empty() {
            "—".to_owned()
        } else {
            state
                .next
                .iter()
                .map(|&i| format!("`{}`", model.states[i].wire_name))
                .collect::<Vec<_>>()
                .join(", ")
        };
        doc.push_str(&format!(
            "| [`{n}`]({m}::{n}) | `{w}` | {i} | {ends} | {next} |\n",
            n = state.name,
            m = model.name,
            w = state.wire_name,
            i = if state.initial { "yes" } else { "" },
        ));
    }
    doc.push_str("\n```mermaid\n");
    doc.push_str(&mermaid(model));
    doc.push_str("```\n");
    doc
}

/// The lifecycle as a Mermaid `stateDiagram-v2`: initial states from `[*]`, ending states
/// to `[*]`, one line per declared transition.
pub(crate) fn mermaid(model: &Model) -> String {
    let states: Vec<events_spec::DiagramState<'_>> = model
        .states
        .iter()
        .map(|state| events_spec::DiagramState {
            wire_name: &state.wire_name,
            initial: state.initial,
            ends: state.kind.ends(),
            next: &state.next,
        })
        .collect();
    events_spec::state_diagram(&states)
}

/// One line under each variant's own docs: wire name, aliases, flags, next states.
fn state_note(model: &Model, state: &crate::model::State) -> String {
    let mut note = format!("Wire name `{}`", state.wire_name);
    if !state.aliases.is_empty() {
        let aliases = state
            .aliases
            .iter()
            .map(|a| format!("`{a}`"))
            .collect::<Vec<_>>()
            .join(", ");
        note.push_str(&format!(" (also accepted: {aliases})"));
    }
    if state.initial {
        note.push_str("; initial");
    }
    match state.kind {
        Kind::Terminal => note.push_str("; terminal"),
        Kind::End => note.push_str("; ends the lifecycle without being terminal"),
        Kind::Open => {
            let next = state
                .next
                .iter()
                .map(|&i| format!("`{}`", model.states[i].wire_name))
                .collect::<Vec<_>>()
                .join(", ");
            note.push_str(&format!("; next: {next}"));
        }
    }
    note.push('.');
    note
}
