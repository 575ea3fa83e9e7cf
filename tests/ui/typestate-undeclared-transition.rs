use webaction_events::{ActionIds, Uuid, WebChat};

fn main() {
    let ids = ActionIds::new(Uuid::nil(), 1, Uuid::nil(), Uuid::nil());
    // `offered` may not be followed by `started`: the invitation must be accepted first.
    let _ = WebChat::offer(ids).start();
}
