// Independent mistakes on different lines are reported in one build, and a line that
// does not parse causes no second error elsewhere.
webaction_events::media_type! {
    /// A poll.
    pub Poll = "poll" {
        states {
            /// Shown.
            intial Shown = "shown" -> Answered | Failed,
            /// Answered.
            Answered = "answered" -> Closed | Faild,
            /// Closed.
            terminal Closed = "closed" (aliases "done", verb close),
            /// Failed.
            end Failed = "failed" (requires answer),
        }
        fields {
            /// The answer.
            answer: Option<String> = 5,
        }
    }
}

fn main() {}
