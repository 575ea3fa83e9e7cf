webaction_events::media_type! {
    /// A poll.
    pub Poll = "poll" {
        states {
            /// Shown.
            initial Shown = "shown" -> Answered | Closed | Answered,
            /// Answered.
            terminal Answered = "answered",
            /// Closed.
            terminal Closed = "closed",
        }
    }
}

fn main() {}
