use webaction_events::{ActionIds, Uuid, WebChat};

fn main() {
    let ids = ActionIds::new(Uuid::nil(), 1, Uuid::nil(), Uuid::nil());
    // Only initial states construct an action.
    let _ = WebChat::accept(ids);
}
