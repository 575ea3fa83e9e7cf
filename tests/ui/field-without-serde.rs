// A field type serde cannot read or write gets its error on the type, not on the whole
// declaration.
webaction_events::media_type! {
    /// A poll.
    pub Poll = "poll" {
        states {
            /// Shown.
            initial Shown = "shown" -> Answered,
            /// Answered.
            terminal Answered = "answered",
        }
        fields {
            /// Not serializable.
            shown_at: Option<std::time::Instant>,
        }
    }
}

fn main() {}
