use webaction_events::{ActionIds, Uuid, WebChat};

fn main() {
    let ids = ActionIds::new(Uuid::nil(), 1, Uuid::nil(), Uuid::nil());
    // `rejected` is terminal: the step returns the last event, and nothing can follow it.
    let _ = WebChat::offer(ids).reject().accept();
}
