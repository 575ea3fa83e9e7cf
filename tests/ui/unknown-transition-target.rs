webaction_events::media_type! {
    /// A poll.
    pub Poll = "poll" {
        states {
            /// Shown.
            initial Shown = "shown" -> Answred | Closed,
            /// Answered.
            terminal Answered = "answered",
            /// Closed.
            terminal Closed = "closed",
        }
    }
}

fn main() {}
