use webaction_events::{ActionIds, Uuid, WebChat};

fn main() {
    let ids = ActionIds::new(Uuid::nil(), 1, Uuid::nil(), Uuid::nil());
    let chat = WebChat::offer(ids).accept();
    // `errored` ends the lifecycle: nothing can follow it either.
    let _ = chat.error("widget failed").start();
}
