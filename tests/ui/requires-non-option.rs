webaction_events::media_type! {
    /// A shared screen.
    pub Cobrowse = "cobrowse" {
        states {
            /// Offered.
            initial Offered = "offered" -> Active,
            /// Sharing.
            terminal Active = "active" (requires share_code),
        }
        fields {
            /// Every event carries it already.
            share_code: String,
        }
    }
}

fn main() {}
