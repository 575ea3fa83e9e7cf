webaction_events::media_type! {
    /// A poll.
    pub Poll = "poll" {
        states {
            /// Shown.
            initial Shown = "shown" -> Answered | Failed,
            /// Answered.
            terminal Answered = "answered" (requires answr),
            /// Failed.
            end Failed = "failed" (requires error_mesage, action_id),
        }
        fields {
            /// The answer.
            answer: Option<String>,
        }
    }
}

fn main() {}
