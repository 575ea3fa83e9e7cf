//! `webaction report`: per media type and action map (id and version), how many actions
//! reached each state and the conversion rate of each declared step, the way the vendor's
//! action map performance report shows them.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

use events_core::ingest::{Emit, IngestStats};
use events_core::{AnyEvent, MediaTypeDescription, Registry, Uuid};
use indicatif::ProgressBar;
use serde_json::{json, Map, Value};

use crate::input::{self, Limits, LineReader, StreamError};
use crate::{progress, CliError};

/// Arguments of `webaction report`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The newline-delimited JSON file to read; `-` or nothing reads standard input.
    pub file: Option<PathBuf>,
    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Line length and tracking limits.
    #[command(flatten)]
    pub limits: Limits,
}

/// One action map of one media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MapKey {
    /// The media type's position in the registry (reports follow registry order).
    pub media_index: usize,
    /// `actionMapId`.
    pub action_map_id: Uuid,
    /// `actionMapVersion`.
    pub action_map_version: u32,
}

/// The counts of one action map.
#[derive(Debug, Clone)]
pub struct MapReport {
    /// The media type.
    pub media: &'static MediaTypeDescription,
    /// Actions that reached each state, by state index.
    pub reached: Vec<u64>,
    /// Actions that stepped from one state to another, by `(from, to)` state indices.
    pub steps: BTreeMap<(usize, usize), u64>,
}

impl MapReport {
    /// Actions started: those that reached an initial state.
    pub fn actions(&self) -> u64 {
        self.media
            .states
            .iter()
            .zip(&self.reached)
            .filter(|(state, _)| state.initial)
            .map(|(_, n)| n)
            .sum()
    }

    /// Each declared step whose source state was reached: `(from, to, actions, rate)`,
    /// where `rate` = actions that took the step / actions that reached `from`.
    pub fn conversions(&self) -> Vec<(&'static str, &'static str, u64, f64)> {
        self.media
            .transitions()
            .filter_map(|(from, to)| {
                let from_index = self.index(from.wire_name);
                let to_index = self.index(to.wire_name);
                let base = self.reached[from_index];
                (base > 0).then(|| {
                    let took = self
                        .steps
                        .get(&(from_index, to_index))
                        .copied()
                        .unwrap_or(0);
                    (
                        from.wire_name,
                        to.wire_name,
                        took,
                        took as f64 / base as f64,
                    )
                })
            })
            .collect()
    }

    fn index(&self, wire_name: &str) -> usize {
        self.media
            .states
            .iter()
            .position(|s| s.wire_name == wire_name)
            .unwrap_or(0)
    }
}

/// The whole report: ingest counts and one entry per action map.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// What ingest saw.
    pub stats: IngestStats,
    /// Per action map, in registry order, then by id and version.
    pub maps: BTreeMap<MapKey, MapReport>,
}

/// Accumulates valid events into a [`Report`]. It remembers nothing per action: the state
/// an action stepped from comes from the ingest tracker ([`Emit::emit_step`]), so memory
/// is the tracker's (bounded by its cap) plus one entry per action map.
#[derive(Debug, Default)]
struct Tally {
    maps: BTreeMap<MapKey, MapReport>,
    media_types: Vec<&'static MediaTypeDescription>,
}

impl Emit for Tally {
    fn emit(&mut self, event: &AnyEvent) {
        self.emit_step(event, None);
    }

    fn wants_steps(&self) -> bool {
        true
    }

    fn emit_step(&mut self, event: &AnyEvent, from: Option<&'static str>) {
        let media = event.media_type();
        let media_index = self
            .media_types
            .iter()
            .position(|m| m.wire_name == media.wire_name)
            .unwrap_or(usize::MAX);
        let key = MapKey {
            media_index,
            action_map_id: event.action_map_id(),
            action_map_version: event.action_map_version(),
        };
        let entry = self.maps.entry(key).or_insert_with(|| MapReport {
            media,
            reached: vec![0; media.states.len()],
            steps: BTreeMap::new(),
        });
        let state = event.state_index();
        entry.reached[state] += 1;
        if let Some(from) = from {
            let from = entry.index(from);
            *entry.steps.entry((from, state)).or_insert(0) += 1;
        }
    }
}

/// Reads `reader` and tallies its valid events. Only events the ingest pipeline accepts
/// count: a rejected line changes nothing, so rates are over valid lifecycles.
pub fn report_stream(
    reader: impl BufRead,
    registry: &Registry,
    limits: &Limits,
    progress: &ProgressBar,
) -> Result<Report, StreamError> {
    let tally = Tally {
        media_types: registry.iter().map(|e| e.description).collect(),
        ..Tally::default()
    };
    let mut ingest = limits.ingest(registry, tally);
    let mut lines = LineReader::new(reader, limits.max_line_bytes);
    let mut buf = Vec::new();
    while let Some(line) = lines.next_line(&mut buf).map_err(StreamError::Read)? {
        if lines.line_number().is_multiple_of(4096) {
            progress.set_position(lines.bytes_read());
        }
        input::ingest_line(&mut ingest, &mut lines, &buf, line).map_err(StreamError::Read)?;
    }
    let stats = *ingest.stats();
    Ok(Report {
        stats,
        maps: ingest.into_emitter().maps,
    })
}

impl Report {
    /// As JSON: the ingest counts and `action_maps`, each with `states` (every state, in
    /// declaration order) and `conversions` (every declared step whose source was
    /// reached).
    pub fn to_json(&self) -> Value {
        let maps: Vec<Value> = self
            .maps
            .iter()
            .map(|(key, map)| {
                let states: Map<String, Value> = map
                    .media
                    .states
                    .iter()
                    .zip(&map.reached)
                    .map(|(state, n)| (state.wire_name.to_owned(), json!(n)))
                    .collect();
                let conversions: Vec<Value> = map
                    .conversions()
                    .into_iter()
                    .map(|(from, to, actions, rate)| {
                        json!({"from": from, "to": to, "actions": actions, "rate": rate})
                    })
                    .collect();
                json!({
                    "media_type": map.media.wire_name,
                    "action_map_id": key.action_map_id,
                    "action_map_version": key.action_map_version,
                    "actions": map.actions(),
                    "states": states,
                    "conversions": conversions,
                })
            })
            .collect();
        json!({
            "events": self.stats.events,
            "valid": self.stats.valid,
            "rejected": self.stats.rejected,
            "action_maps": maps,
        })
    }

    /// As text, one block per action map.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for (key, map) in &self.maps {
            out.push_str(&format!(
                "{} · action map {} v{} · {} actions\n",
                map.media.wire_name,
                key.action_map_id,
                key.action_map_version,
                map.actions()
            ));
            let width = map
                .media
                .states
                .iter()
                .map(|s| s.wire_name.len())
                .max()
                .unwrap_or(0)
                .max(5);
            out.push_str(&format!("  {:<width$}  {:>8}\n", "state", "actions"));
            for (state, n) in map.media.states.iter().zip(&map.reached) {
                out.push_str(&format!("  {:<width$}  {n:>8}\n", state.wire_name));
            }
            out.push_str(&format!(
                "  {:<step$}  {:>15}  {:>6}\n",
                "conversion",
                "actions",
                "rate",
                step = 2 * width + 4
            ));
            for (from, to, took, rate) in map.conversions() {
                let base = map.reached[map.index(from)];
                out.push_str(&format!(
                    "  {:<step$}  {:>15}  {:>5.1}%\n",
                    format!("{from} -> {to}"),
                    format!("{took}/{base}"),
                    rate * 100.0,
                    step = 2 * width + 4
                ));
            }
            out.push('\n');
        }
        out.push_str(&format!(
            "{} events: {} valid, {} rejected{}\n",
            self.stats.events,
            self.stats.valid,
            self.stats.rejected,
            if self.stats.rejected > 0 {
                " (`webaction check` lists them)"
            } else {
                ""
            }
        ));
        out
    }
}

/// Runs `webaction report`.
pub fn run(args: &Args, registry: &Registry) -> Result<ExitCode, CliError> {
    let input = input::open(args.file.as_deref())?;
    let bar = progress::bar(input.len, "reading");
    let report =
        report_stream(input.reader, registry, &args.limits, &bar).map_err(|e| match e {
            StreamError::Read(e) | StreamError::Write(e) => {
                CliError::io("cannot read", &input.path, e)
            }
        })?;
    bar.finish_and_clear();
    let text = if args.json {
        format!("{}\n", report.to_json())
    } else {
        report.to_text()
    };
    crate::write_stdout(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
