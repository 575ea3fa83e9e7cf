webaction_events::media_type! {
    /// A poll.
    pub Poll = "poll" {
        states {
            /// Shown.
            initial Shown = "shown" -> Answered,
            /// Answered.
            terminal Answered = "answered",
        }
        fields {
            /// The question.
            question: String,
            /// The question, again.
            question: String = "questionText",
            /// The answer, on the question's wire name.
            answer: Option<String> = "question",
            /// Collides with the documented `actionId`.
            poll_id: String = "actionId",
            /// Collides with the documented `session_id` by Rust name.
            session_id: String = "pollSession",
        }
    }
}

fn main() {}
