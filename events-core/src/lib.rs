//! The runtime of `webaction-events`: the traits and types that `media_type!` declarations
//! generate code against, and the two media types the vendor documents, [`WebChat`] and
//! [`ContentOffer`].
//!
//! Most users depend on the facade crate `webaction-events`, which re-exports all of this.
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

// Generated code names this crate `::events_core` (or `$crate`); this makes the name
// resolve inside the crate too, where the built-in media types are declared.
extern crate self as events_core;

mod action;
mod any;
mod builtin;
mod bus;
mod bus_local;
mod description;
mod event;
pub mod ingest;
mod media_type;
mod registry;
#[cfg(feature = "testing")]
pub mod testing;
mod topic;

pub use action::{ActionIds, NewAction};
pub use any::{AnyEvent, DynEvent};
pub use builtin::{
    content_offer, web_chat, ContentOffer, ContentOfferAction, ContentOfferEvent, WebChat,
    WebChatAction, WebChatEvent,
};
pub use bus::{
    Emitter, EventStream, Events, HandlerPanic, Lagged, Subscription, SubscriptionGuard,
    TypedStream,
};
pub use description::{
    FieldDescription, JsonType, MediaTypeDescription, StateDescription, StateKind,
    DOCUMENTED_FIELDS,
};
pub use event::{CustomerIdType, EventError, RawEvent, UnknownState};
pub use media_type::{Event, MediaType};
pub use registry::{IntoTopic, MediaTypeEntry, Registry};
pub use topic::{Topic, TopicError};
pub use uuid::Uuid;

/// Declares a media type: its lifecycle states, which state may follow which, and its
/// event fields. See the facade crate `webaction-events` for the full reference; this is
/// the same macro for crates that depend on `events-core` directly.
///
/// ```
/// events_core::media_type! {
///     /// A poll shown on the page.
///     pub Poll = "poll" {
///         states {
///             /// The poll is shown.
///             initial Shown = "shown" -> Answered,
///             /// The visitor answered.
///             terminal Answered = "answered",
///         }
///     }
/// }
/// assert_eq!(Poll::Shown.as_str(), "shown");
/// ```
#[macro_export]
macro_rules! media_type {
    ($($declaration:tt)*) => {
        $crate::__private::media_type! { crate = $crate; $($declaration)* }
    };
}

/// A topic checked at compile time: `topic!(WebChat, "offered")` is
/// `WebChat::topic("offered")` evaluated in a `const`, so a state that does not exist is a
/// compile error, for built-in and user-declared media types alike.
///
/// ```
/// use events_core::{topic, Topic, WebChat};
/// const OFFERED: Topic = topic!(WebChat, "offered");
/// assert_eq!(OFFERED.to_string(), "webchat:offered");
/// assert!(topic!(WebChat, "all").is_all());
/// ```
///
/// ```compile_fail
/// let _ = events_core::topic!(events_core::WebChat, "offred");
/// ```
#[macro_export]
macro_rules! topic {
    ($media_type:ty, $state:expr $(,)?) => {{
        const __EVENTS_TOPIC: $crate::Topic = <$media_type>::topic($state);
        __EVENTS_TOPIC
    }};
}

/// What generated code needs; not public API, may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use crate::action::ActionIds;
    pub use crate::bus_local::{LocalCopies, TypedLocal};
    pub use crate::description::{
        FieldDescription, JsonType, MediaTypeDescription, StateDescription, StateKind,
    };
    pub use crate::event::{CustomerIdType, EventError, RawEvent, UnknownState};
    pub use crate::media_type::{Event, MediaType};
    pub use crate::registry::{Declared, MediaTypeEntry};
    pub use crate::topic::{Topic, TopicError};
    pub use core;
    pub use events_macros::media_type;
    pub use events_spec::closest_index;
    pub use inventory;
    pub use serde;
    pub use serde_json;
    pub use std;
    pub use uuid;

    /// Appends `id` as JSON, as its `Serialize` writes it with `serde_json`: a string
    /// of the hyphenated lowercase form, which needs no escape.
    pub fn append_uuid_json(out: &mut Vec<u8>, id: &uuid::Uuid) {
        out.push(b'"');
        out.extend_from_slice(
            id.hyphenated()
                .encode_lower(&mut uuid::Uuid::encode_buffer())
                .as_bytes(),
        );
        out.push(b'"');
    }

    /// `a == b` for string slices, usable in `const fn` (where `==` on `str` is not).
    pub const fn str_eq(a: &str, b: &str) -> bool {
        let (a, b) = (a.as_bytes(), b.as_bytes());
        if a.len() != b.len() {
            return false;
        }
        let mut i = 0;
        while i < a.len() {
            if a[i] != b[i] {
                return false;
            }
            i += 1;
        }
        true
    }
}
