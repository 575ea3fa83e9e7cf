//! Ingest: raw JSON events in, lifecycles checked, typed events out, nothing lost.
//!
//! [`Ingest`] connects the stages: [`Decoder`] reads a line into the typed event of its
//! media type (looked up in a [`Registry`](crate::Registry)), an optional enrichment
//! function adds fields, the [`Tracker`] checks the action's lifecycle, and accepted events
//! go to an [`Emit`] (the bus, or any function). Every line that is not a valid event
//! comes back with an [`IngestError`] whose [`ErrorKind`] is one of `malformed_json`,
//! `missing_field`, `invalid_field`, `unknown_media_type`, `unknown_state`,
//! `illegal_transition`, `too_large`, and is counted in [`IngestStats`].

mod decode;
mod error;
mod pipeline;
mod tracker;

pub use decode::{Decoded, Decoder, DEFAULT_MAX_LINE_BYTES};
pub use error::{ErrorKind, IllegalTransition, IngestError, TransitionRule};
pub use pipeline::{
    Discard, Emit, Enrich, IdleTimeout, IllegalPolicy, Ingest, IngestBuilder, IngestStats, Outcome,
    Rejection,
};
pub use tracker::{RestoreError, Step, Tracker, TrackerConfig, TrackerStats};
