use webaction_events::{ActionIds, Uuid, WebChat};

fn main() {
    let ids = ActionIds::new(Uuid::nil(), 1, Uuid::nil(), Uuid::nil());
    // `errored` requires `errorMessage`, so the step takes it.
    let _ = WebChat::offer(ids).error();
}
