webaction_events::media_type! {
    /// A poll.
    pub Poll = "poll" {
        states {
            /// Shown.
            initial Shown = "shown" (aliases "displayed") -> Answered | Closed,
            /// Answered; its alias is another state's wire name.
            terminal Answered = "answered" (aliases "closed"),
            /// Closed; its alias is another state's alias.
            terminal Closed = "closed-by-visitor" (aliases "displayed"),
        }
    }
}

fn main() {}
