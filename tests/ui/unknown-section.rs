webaction_events::media_type! {
    /// A poll.
    pub Poll = "poll" {
        stats {
            initial Shown = "shown",
        }
        states {
            /// Shown.
            initial Shown = "shown" -> Answered,
            /// Answered.
            terminal Answered = "answered",
        }
    }
}

fn main() {}
