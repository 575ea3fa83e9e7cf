//! The declared fields of the model, and the declaration rules about them.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Attribute, Ident, Type};

use events_spec::DOCUMENTED_FIELDS;

use super::Name;
use crate::diagnostics::{Diagnostics, FirstDeclared};
use crate::parse::FieldDecl;

/// The event struct's field that keeps unknown fields; no declared field may take its name.
const EXTRA_FIELD: &str = "extra";

pub(crate) struct Field {
    pub(crate) docs: Vec<Attribute>,
    pub(crate) name: Ident,
    pub(crate) ty: Type,
    pub(crate) wire_name: Name,
    /// `Option<T>`: absent means `None`; any other type must be present in every event.
    pub(crate) optional: bool,
    /// The type of a present value: `T` of `Option<T>`, else the field's type.
    pub(crate) value_ty: Type,
    pub(crate) json_type: TokenStream,
}

impl Field {
    /// Rules: a field is declared once, by Rust name and by wire name; neither name is a
    /// documented field's, the Rust name is not `extra`, and the wire name is not empty.
    ///
    /// The fields the model keeps: each that clashes with no documented field, is not
    /// `extra`, and repeats neither name of a field kept before it. (A repeat is reported
    /// against the first declaration, kept or not, so the note points at it.)
    pub(super) fn resolve(
        declared: &[&FieldDecl],
        docs: Vec<Vec<Attribute>>,
        diagnostics: &mut Diagnostics,
    ) -> Vec<Field> {
        let mut names = FirstDeclared::default();
        let mut wire_names = FirstDeclared::default();
        let mut kept: Vec<Field> = Vec::new();
        for (decl, docs) in declared.iter().zip(docs) {
            let name = decl.name.to_string();
            let wire = wire_name(decl);
            if let Some(documented) = DOCUMENTED_FIELDS
                .iter()
                .find(|f| f.rust_name == name || f.wire_name == wire.as_str())
            {
                diagnostics.error(
                    wire.span(),
                    format_args!(
                        "field `{name}` (`{wire}`) collides with the documented field `{}` (`{}`), which every event already has",
                        documented.rust_name, documented.wire_name
                    ),
                );
                continue;
            }
            let is_extra = name == EXTRA_FIELD;
            if is_extra {
                diagnostics.error(
                    decl.name.span(),
                    "`extra` is the event's map of unknown fields; choose another name",
                );
            }
            names.record(
                &name,
                decl.name.span(),
                format!("field `{name}`"),
                diagnostics,
            );
            let what = format!("field wire name `{wire}`");
            wire_names.record(&wire, wire.span(), what, diagnostics);
            if wire.is_empty() {
                diagnostics.error(wire.span(), "a field's wire name cannot be empty");
            }
            let taken = kept
                .iter()
                .any(|f| f.name == decl.name || f.wire_name.as_str() == wire.as_str());
            if !is_extra && !taken {
                kept.push(Field::build(decl, docs, wire));
            }
        }
        kept
    }

    fn build(decl: &FieldDecl, docs: Vec<Attribute>, wire_name: Name) -> Field {
        let inner = option_inner(&decl.ty);
        Field {
            docs,
            name: decl.name.clone(),
            ty: decl.ty.clone(),
            wire_name,
            optional: inner.is_some(),
            value_ty: inner.unwrap_or(&decl.ty).clone(),
            json_type: json_type(inner.unwrap_or(&decl.ty)),
        }
    }
}

/// The declared wire name, or the one derived from the Rust name, on its span.
fn wire_name(field: &FieldDecl) -> Name {
    match &field.wire_name {
        Some(wire) => Name::from(wire),
        None => Name::new(
            events_spec::field_wire_name(&field.name.to_string()),
            field.name.span(),
        ),
    }
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
