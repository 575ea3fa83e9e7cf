// Defined before the README's own (relative) definitions, which then lose: in the crate
// docs on docs.rs a relative link would point into the docs, not at the packaged file.
#![doc = "[report-png]: https://docs.rs/crate/webaction-events/latest/source/docs/report.png"]
#![doc = "[events-index]: https://docs.rs/crate/webaction-events/latest/source/docs/events/index.md"]
#![doc = ""]
#![doc = include_str!("../README.md")]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

// The whole public API, listed so that a reader sees it in one place.
pub use events_core::{
    content_offer, ingest, topic, web_chat, ActionIds, AnyEvent, ContentOffer, ContentOfferAction,
    ContentOfferEvent, CustomerIdType, DynEvent, Emitter, Event, EventError, EventStream, Events,
    FieldDescription, HandlerPanic, IntoTopic, JsonType, Lagged, MediaType, MediaTypeDescription,
    MediaTypeEntry, NewAction, RawEvent, Registry, StateDescription, StateKind, Subscription,
    SubscriptionGuard, Topic, TopicError, TypedStream, UnknownState, Uuid, WebChat, WebChatAction,
    WebChatEvent, DOCUMENTED_FIELDS,
};

/// The test kit for media types: proptest strategies and a recording bus (feature
/// `testing`).
#[cfg(feature = "testing")]
pub use events_core::testing;

/// Documentation generated from the declarations (the `events-docs` crate).
pub use events_docs as docs;

/// What generated code needs; not public API.
#[doc(hidden)]
pub use events_core::__private;

/// Declares a media type.
#[doc = include_str!("../docs/dsl.md")]
#[macro_export]
macro_rules! media_type {
    ($($declaration:tt)*) => {
        $crate::__private::media_type! { crate = $crate; $($declaration)* }
    };
}
