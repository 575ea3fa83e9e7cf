webaction_events::media_type! {
    /// A poll.
    pub Poll = "poll" {
        states {
            /// Shown.
            initial Shown = "shown" -> Answered | Stuck,
            /// Answered.
            terminal Answered = "answered",
            /// Neither terminal nor end, and nothing follows.
            Stuck = "stuck",
        }
    }
}

fn main() {}
