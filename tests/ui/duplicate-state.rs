webaction_events::media_type! {
    /// A poll.
    pub Poll = "poll" {
        states {
            /// Shown.
            initial Shown = "shown" -> Answered,
            /// Answered.
            terminal Answered = "answered",
            /// Answered again, by another name.
            terminal Answered = "answered-again",
            /// Same wire name as `Answered`.
            terminal Done = "answered",
        }
    }
}

fn main() {}
