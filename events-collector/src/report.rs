//! The live report `GET /report` serves: what this process has accepted and rejected so
//! far. The collector feeds it from the ingest thread and asks it for the page; what the
//! page shows is the embedding program's (`webaction serve` renders the same page as
//! `webaction report --html`).

use events_core::ingest::{IngestStats, Outcome};
use events_core::AnyEvent;

/// A report fed while the collector runs. Calls come from the ingest thread (the feed)
/// and from request handlers ([`html`](Self::html)) at once.
pub trait LiveReport: Send + Sync + 'static {
    /// An accepted event, with the state its action was in before (`None` for its
    /// first).
    fn accepted(&self, event: &AnyEvent, from: Option<&'static str>);

    /// A rejected event: its bytes as sent, and what ingest made of them.
    fn rejected(&self, raw: &[u8], outcome: &Outcome);

    /// Ingest's counts, after each request.
    fn counts(&self, stats: &IngestStats);

    /// The page, a whole HTML document.
    fn html(&self) -> String;
}
