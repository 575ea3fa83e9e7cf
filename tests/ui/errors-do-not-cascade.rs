// One mistake in the declaration gives one error: the generated types still exist, so
// the code below that uses them compiles.
webaction_events::media_type! {
    /// A poll.
    pub Poll = "poll" {
        states {
            /// Shown.
            initial Shown = "shown" -> Answered | Closd,
            /// Answered.
            terminal Answered = "answered",
            /// Closed.
            terminal Closed = "closed",
        }
    }
}

fn main() {
    let state = Poll::Shown;
    assert!(state.can_transition_to(Poll::Answered));
    let _: Option<PollEvent> = None;
}
