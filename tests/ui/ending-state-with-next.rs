webaction_events::media_type! {
    /// A poll.
    pub Poll = "poll" {
        states {
            /// Shown.
            initial Shown = "shown" -> Answered | Failed,
            /// Answered, yet followed by something.
            terminal Answered = "answered" -> Failed,
            /// Failed.
            end Failed = "failed" -> Shown,
        }
    }
}

fn main() {}
