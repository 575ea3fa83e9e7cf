webaction_events::media_type! {
    /// A poll.
    pub Poll = "poll" {
        states {
            /// Shown.
            initial Shown = "shown" (alias "displayed") -> Answered,
            /// Answered.
            terminal Answered = "answered",
        }
    }
}

fn main() {}
