//! A declaration compiles warning-free in a crate that shadows the prelude's names and
//! denies missing docs.
#![deny(warnings, missing_docs)]
#![allow(dead_code)]

struct Result;
struct Ok;
struct Err;
struct Option;
struct Some;
struct None;
struct String;
struct Vec;
struct Box;

webaction_events::media_type! {
    /// A web messaging offer.
    pub MessagingOffer = "webMessagingOffer" {
        version = 2;
        states {
            /// Shown to the visitor.
            initial Offered = "offered" -> Accepted | Errored,
            /// Taken.
            terminal Accepted = "accepted" (aliases "taken"),
            /// Failed.
            end Errored = "errored" (requires error_message, reason),
        }
        fields {
            /// Why it failed.
            reason: core::option::Option<std::string::String> = "failureReason",
            /// The page it was shown on.
            page_url: std::string::String,
        }
    }
}

fn main() {
    let _ = MessagingOffer::Offered.as_str();
}
