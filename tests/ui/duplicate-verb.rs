webaction_events::media_type! {
    /// A poll.
    pub Poll = "poll" {
        states {
            /// Shown.
            initial Shown = "shown" (verb show) -> Answered | Closed | State,
            /// Answered.
            terminal Answered = "answered" (verb close),
            /// Closed.
            terminal Closed = "closed" (verb close),
            /// Its default method name, `state`, is taken by `PollAction::state`.
            terminal State = "state",
        }
    }
}

fn main() {}
