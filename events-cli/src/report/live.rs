//! The report `webaction serve` shows at `GET /report`: the same tally and the same page
//! as `webaction report --html`, fed by the collector's ingest thread instead of a file.

use std::sync::Mutex;

use events_collector::LiveReport;
use events_core::ingest::{Emit, IngestStats, Outcome};
use events_core::{AnyEvent, Registry};

use super::{claimed_media_type, html, Report, Tally};

/// What the collector accepted and rejected so far, per media type and action map.
#[derive(Debug)]
pub struct Live {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    tally: Tally,
    stats: IngestStats,
    rejected_by_media: Vec<[u64; 7]>,
    rejected_unknown_media: [u64; 7],
}

impl Live {
    /// An empty report of `registry`'s media types.
    pub fn new(registry: &Registry) -> Self {
        let media_types: Vec<_> = registry.iter().map(|e| e.description).collect();
        Live {
            state: Mutex::new(State {
                rejected_by_media: vec![[0; 7]; media_types.len()],
                tally: Tally {
                    media_types,
                    ..Tally::default()
                },
                stats: IngestStats::default(),
                rejected_unknown_media: [0; 7],
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The report as it is now.
    pub fn snapshot(&self) -> Report {
        let state = self.state();
        Report {
            stats: state.stats,
            maps: state.tally.maps.clone(),
            media_types: state.tally.media_types.clone(),
            rejected_by_media: state.rejected_by_media.clone(),
            rejected_unknown_media: state.rejected_unknown_media,
        }
    }
}

impl LiveReport for Live {
    fn accepted(&self, event: &AnyEvent, from: Option<&'static str>) {
        self.state().tally.emit_step(event, from);
    }

    fn rejected(&self, raw: &[u8], outcome: &Outcome) {
        let Some(error) = outcome.error() else {
            return;
        };
        let kind = error.kind().index();
        let mut state = self.state();
        match claimed_media_type(outcome, raw, &state.tally.media_types) {
            Some(media) => state.rejected_by_media[media][kind] += 1,
            None => state.rejected_unknown_media[kind] += 1,
        }
    }

    fn counts(&self, stats: &IngestStats) {
        self.state().stats = *stats;
    }

    fn html(&self) -> String {
        html::html(&self.snapshot())
    }
}
