//! The two media types the vendor documents, declared with the same macro users use.
//!
//! Source: the vendor's "Web chat lifecycle" and "Content offer lifecycle" pages. States,
//! meanings and terminal flags marked *documented* come from there; everything marked
//! *decision* is ours, taken where the documentation is silent, and lives only here.

use uuid::Uuid;

use crate::registry::Registry;

crate::media_type! {
    /// A proactive chat invitation (`webchat`), and the chat that follows it.
    ///
    /// *Documented:* the states `offered` through `errored` and their terminal flags.
    /// *Decision:* every transition (the vendor's diagrams are images; these are read from
    /// its prose), the states `started`, `engaged` and `abandoned` (from the vendor's
    /// metrics), and the spelling `timedout` (the documentation prints "timed out"; both it
    /// and `timedOut` are accepted on input).
    pub WebChat = "webchat" {
        states {
            /// Visitor activity qualified an action map; the invitation is shown. *Documented.*
            initial Offered = "offered" (verb offer)
                -> Accepted | Rejected | Ignored | TimedOut | Errored,
            /// The visitor accepted the invitation. *Documented.*
            Accepted = "accepted" (verb accept) -> Started | Rejected | Errored,
            /// The visitor declined the invitation, or closed the pre-chat form. *Documented.*
            terminal Rejected = "rejected" (verb reject),
            /// The visitor navigated away from or around the invitation. *Documented.*
            terminal Ignored = "ignored" (verb ignore),
            /// The invitation timed out and was withdrawn. *Documented* as "timed out";
            /// the wire spelling `timedout` is a *decision*.
            terminal TimedOut = "timedout" (aliases "timed out", "timedOut"; verb time_out),
            /// A widget error prevented the engagement; `errorMessage` is set. *Documented*;
            /// it ends the lifecycle without being terminal.
            end Errored = "errored" (requires error_message; verb error),
            /// The chat session started. *Decision*, from the vendor's metrics.
            Started = "started" (verb start) -> Engaged | Abandoned | Errored,
            /// An agent engaged with the visitor. *Decision.*
            terminal Engaged = "engaged" (verb engage),
            /// The visitor left before an agent engaged. *Decision.*
            terminal Abandoned = "abandoned" (verb abandon),
        }
        fields {
            /// The chat's conversation, when the chat widget knows it. The vendor's example
            /// enriches every `webchat` event with it before sending it on.
            conversation_id: Option<Uuid> = "conversationId",
        }
    }
}

crate::media_type! {
    /// A piece of content offered on the page (`contentoffer`).
    ///
    /// *Documented:* the states, their meanings and terminal flags; content offers have no
    /// timeout state. *Decision:* the transitions, read from the documentation's prose.
    pub ContentOffer = "contentoffer" {
        states {
            /// Visitor activity qualified an action map; the offer is shown. *Documented.*
            initial Offered = "offered" (verb offer) -> Accepted | Rejected | Ignored | Errored,
            /// The visitor took the offer, e.g. clicked its call to action. *Documented.*
            terminal Accepted = "accepted" (verb accept),
            /// The visitor declined: closed it, or "No, thank you". *Documented.*
            terminal Rejected = "rejected" (verb reject),
            /// The visitor navigated away from or around the offer. *Documented.*
            terminal Ignored = "ignored" (verb ignore),
            /// A widget error prevented the engagement; `errorMessage` is set. *Documented*;
            /// it ends the lifecycle without being terminal.
            end Errored = "errored" (requires error_message; verb error),
        }
    }
}

/// The built-in media types' registry lives here, beside their declarations, so that the
/// registry itself depends on no media type.
impl Registry {
    /// `webchat` and `contentoffer`.
    pub fn builtin() -> Self {
        let mut registry = Registry::empty();
        registry.register::<WebChat>();
        registry.register::<ContentOffer>();
        registry
    }
}

impl Default for Registry {
    /// The same as [`Registry::all`].
    fn default() -> Self {
        Registry::all()
    }
}
