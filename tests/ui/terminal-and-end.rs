webaction_events::media_type! {
    /// A poll.
    pub Poll = "poll" {
        states {
            /// Shown.
            initial Shown = "shown" -> Answered,
            /// Both at once.
            terminal end Answered = "answered",
        }
    }
}

fn main() {}
