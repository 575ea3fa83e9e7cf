// A forgotten `-> ...` is one dead-end error, not also "unreachable" for the states it
// would have led to.
webaction_events::media_type! {
    /// A poll.
    pub Poll = "poll" {
        states {
            /// Shown.
            initial Shown = "shown" -> Opened,
            /// Opened.
            Opened = "opened",
            /// Answered.
            Answered = "answered" -> Closed,
            /// Closed.
            terminal Closed = "closed",
        }
    }
}

fn main() {}
