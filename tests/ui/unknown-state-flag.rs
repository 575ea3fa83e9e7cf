webaction_events::media_type! {
    /// A poll.
    pub Poll = "poll" {
        states {
            /// Shown.
            intial Shown = "shown" -> Answered,
            /// Answered.
            terminal Answered = "answered",
        }
    }
}

fn main() {}
