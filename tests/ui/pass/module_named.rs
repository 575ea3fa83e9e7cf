//! `module = ...;` names the typestate module, so a module of the user's own with the
//! default name (`cobrowse`) can stay.

mod cobrowse {
    pub const SHARE_URL: &str = "https://example.com/share";
}

webaction_events::media_type! {
    /// A co-browsing session.
    pub Cobrowse = "cobrowse" {
        module = cobrowse_states;
        states {
            /// Offered.
            initial Offered = "offered" (verb offer) -> Active,
            /// Sharing.
            terminal Active = "active" (verb activate),
        }
    }
}

fn main() {
    let ids = webaction_events::ActionIds::new(webaction_events::NewAction {
        action_map_id: webaction_events::Uuid::nil(),
        action_map_version: 1,
        customer_id: webaction_events::Uuid::nil(),
        session_id: webaction_events::Uuid::nil(),
    });
    let offered: CobrowseAction<cobrowse_states::Offered> = Cobrowse::offer(ids);
    let _ = offered.activate();
    assert!(cobrowse::SHARE_URL.starts_with("https"));
}
