webaction_events::media_type! {
    /// A poll.
    pub Poll = "poll" {
        states {
            /// Shown.
            initial Shown = "shown" -> Answered,
            /// Answered.
            terminal Answered = "answered" (verb set_answer),
        }
        fields {
            /// The answer.
            answer: Option<String>,
        }
    }
}

fn main() {}
