//! A state may be named like the typestate module's trait; the trait then takes another
//! name.

webaction_events::media_type! {
    /// A poll.
    pub Poll = "poll" {
        states {
            /// Shown.
            initial Shown = "shown" (verb show) -> Transition,
            /// Moved on.
            terminal Transition = "transition" (verb move_on),
        }
    }
}

fn main() {
    let ids = webaction_events::ActionIds::new(webaction_events::NewAction {
        action_map_id: webaction_events::Uuid::nil(),
        action_map_version: 1,
        customer_id: webaction_events::Uuid::nil(),
        session_id: webaction_events::Uuid::nil(),
    });
    let last = Poll::show(ids).move_on();
    assert_eq!(last.action_state, Poll::Transition);
}
