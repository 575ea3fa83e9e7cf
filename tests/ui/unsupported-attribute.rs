webaction_events::media_type! {
    /// A poll.
    #[derive(Default)]
    pub Poll = "poll" {
        states {
            /// Shown.
            initial Shown = "shown" -> Answered,
            /// Answered.
            #[serde(rename = "ok")]
            terminal Answered = "answered",
        }
        fields {
            /// The answer.
            #[serde(default)]
            answer: Option<String>,
        }
    }
}

fn main() {}
