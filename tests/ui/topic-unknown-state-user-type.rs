// The same compile-time check for a media type declared in the user's own crate, through
// the `topic!` macro, which evaluates its topic in a `const` wherever it is written.
webaction_events::media_type! {
    /// A poll shown on the page.
    pub Poll = "poll" {
        states {
            /// The poll is shown.
            initial Shown = "shown" -> Answered,
            /// The visitor answered.
            terminal Answered = "answered",
        }
    }
}

fn main() {
    let _ = webaction_events::topic!(Poll, "answred");
}
