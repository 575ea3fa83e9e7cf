// A topic written as a literal is checked when the program is compiled: `offred` is not a
// state of `webchat`, so evaluating the `const` fails, suggests `offered` and lists the
// states there are.
use webaction_events::{Topic, WebChat};

const OFFERED: Topic = WebChat::topic("offred");

fn main() {
    let _ = OFFERED;
}
