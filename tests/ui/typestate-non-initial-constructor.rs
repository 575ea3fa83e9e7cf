use webaction_events::{ActionIds, NewAction, Uuid, WebChat};

fn main() {
    let ids = ActionIds::new(NewAction { action_map_id: Uuid::nil(), action_map_version: 1, customer_id: Uuid::nil(), session_id: Uuid::nil() });
    // Only initial states construct an action.
    let _ = WebChat::accept(ids);
}
