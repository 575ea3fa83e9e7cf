use webaction_events::{ActionIds, NewAction, Uuid, WebChat};

fn main() {
    let ids = ActionIds::new(NewAction { action_map_id: Uuid::nil(), action_map_version: 1, customer_id: Uuid::nil(), session_id: Uuid::nil() });
    let chat = WebChat::offer(ids).accept();
    // `errored` ends the lifecycle: nothing can follow it either.
    let _ = chat.error("widget failed").start();
}
