// A state nothing like any declared one gets no suggestion, only the list of states.
use webaction_events::{topic, Topic, WebChat};

const BANANA: Topic = topic!(WebChat, "banana");

fn main() {
    let _ = BANANA;
}
