webaction_events::media_type! {
    /// A poll.
    pub Poll = "poll" {
        states {
            /// Shown.
            Shown = "shown" -> Answered,
            /// Answered.
            terminal Answered = "answered",
        }
    }
}

fn main() {}
