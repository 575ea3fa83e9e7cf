use webaction_events::{ActionIds, NewAction, Uuid, WebChat};

fn main() {
    let ids = ActionIds::new(NewAction { action_map_id: Uuid::nil(), action_map_version: 1, customer_id: Uuid::nil(), session_id: Uuid::nil() });
    let offered = WebChat::offer(ids);
    // One lifecycle cannot be forked into two that both go on.
    let fork = offered.clone();
    let _ = offered.accept();
    let _ = fork.reject();
}
