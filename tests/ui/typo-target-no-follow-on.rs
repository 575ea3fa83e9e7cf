// A misspelt transition target is one error: the method the intended transition gives
// still exists, so code written against it reports nothing more.
use webaction_events::{ActionIds, NewAction, Uuid};

webaction_events::media_type! {
    /// A shared screen.
    pub Cobrowse = "cobrowse" {
        states {
            /// Offered.
            initial Offered = "offered" (verb offer) -> Actve,
            /// Sharing.
            terminal Active = "active" (verb activate),
        }
    }
}

fn main() {
    let ids = ActionIds::new(NewAction { action_map_id: Uuid::nil(), action_map_version: 1, customer_id: Uuid::nil(), session_id: Uuid::nil() });
    let _ = Cobrowse::offer(ids).activate();
}
