webaction_events::media_type! {
    /// A poll.
    pub Poll = "poll" {
        states {
            /// Shown.
            initial Shown = "shown" -> Answered,
            /// Answered.
            terminal Answered = "answered",
            /// Nothing leads here.
            terminal Forgotten = "forgotten",
        }
    }
}

fn main() {}
