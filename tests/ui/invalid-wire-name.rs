webaction_events::media_type! {
    /// A poll.
    pub Poll = "po:ll" {
        states {
            /// Shown.
            initial Shown = "" -> Answered | All | Spaced,
            /// Answered.
            terminal Answered = "answer:ed",
            /// Reserved.
            terminal All = "all",
            /// Whitespace.
            terminal Spaced = "timed out",
        }
    }
}

fn main() {}
