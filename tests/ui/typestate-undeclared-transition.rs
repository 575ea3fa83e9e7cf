use webaction_events::{ActionIds, NewAction, Uuid, WebChat};

fn main() {
    let ids = ActionIds::new(NewAction { action_map_id: Uuid::nil(), action_map_version: 1, customer_id: Uuid::nil(), session_id: Uuid::nil() });
    // `offered` may not be followed by `started`: the invitation must be accepted first.
    let _ = WebChat::offer(ids).start();
}
