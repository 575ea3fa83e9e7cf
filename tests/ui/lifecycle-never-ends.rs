webaction_events::media_type! {
    /// A poll.
    pub Poll = "poll" {
        states {
            /// Shown.
            initial Shown = "shown" -> Answered | Hidden,
            /// Answered.
            terminal Answered = "answered",
            /// Hidden: loops with `Peeking` forever.
            Hidden = "hidden" -> Peeking,
            /// Peeking.
            Peeking = "peeking" -> Hidden,
        }
    }
}

fn main() {}
