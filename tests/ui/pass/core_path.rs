//! A crate that depends on `events-core` directly (not the facade) declares a media type
//! with `events_core::media_type!`; the generated code names `events_core`.
#![deny(warnings, missing_docs)]

events_core::media_type! {
    /// A survey.
    pub Survey = "survey" {
        states {
            /// Shown.
            initial Shown = "shown" -> Answered,
            /// Answered.
            terminal Answered = "answered",
        }
    }
}

mod reexported {
    //! A facade re-exported under another name: `crate = path;` overrides the path.
    pub use webaction_events as sdk;
}

reexported::sdk::media_type! {
    crate = crate::reexported::sdk;
    /// A banner.
    pub Banner = "banner" {
        states {
            /// Shown.
            initial Shown = "shown" -> Closed,
            /// Closed.
            terminal Closed = "closed",
        }
    }
}

fn main() {
    use events_core::MediaType;
    assert_eq!(<Survey as MediaType>::DESCRIPTION.wire_name, "survey");
    assert_eq!(Banner::Shown.successors(), [Banner::Closed]);
}
