//! A fresh crate that depends only on the facade declares a media type and subscribes to
//! it by topic string: no registration call.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use webaction_events::{ActionIds, NewAction, Events, Uuid};

webaction_events::media_type! {
    /// A co-browsing session.
    pub Cobrowse = "cobrowse" {
        states {
            /// Offered to the visitor.
            initial Offered = "offered" (verb offer) -> Active,
            /// The session runs.
            terminal Active = "active" (verb activate),
        }
    }
}

fn main() {
    let events = Events::new();
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&seen);
    let _subscription = events
        .on_topic("cobrowse:all", move |_| {
            counter.fetch_add(1, Ordering::Relaxed);
        })
        .expect("a declared media type is known by topic string");
    let ids = ActionIds::new(NewAction { action_map_id: Uuid::new_v4(), action_map_version: 1, customer_id: Uuid::new_v4(), session_id: Uuid::new_v4() });
    let offered = Cobrowse::offer(ids);
    events.emit(offered.event());
    let active: CobrowseEvent = offered.activate();
    events.emit(&active);
    assert_eq!(seen.load(Ordering::Relaxed), 2);
}
