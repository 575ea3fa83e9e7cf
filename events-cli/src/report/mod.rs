//! `webaction report`: per media type and action map (id and version), how many actions
//! reached each state and how many took each declared step, the way the vendor's action
//! map performance report shows them.
//!
//! This module holds the tally and the figures; [`text`], [`json`] and [`html`](mod@html) render
//! the same [`Report`] through [`Report::sections`], so the three agree on every number
//! and on the order of the maps.
//!
//! Rejected lines by media type: a rejected line counts toward the media type its
//! `actionMediaType` names when that names a registered media type (an illegal transition,
//! a missing or invalid field, an unknown state). Lines whose media type cannot be known
//! (malformed JSON, too long to read, an unknown or unreadable `actionMediaType`) are
//! counted once for the whole report, as "media type unknown".

pub mod html;
pub mod json;
#[cfg(feature = "serve")]
pub mod live;
pub mod text;

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

use events_core::ingest::{Discard, Emit, ErrorKind, Ingest, IngestStats, Outcome};
use events_core::{AnyEvent, MediaTypeDescription, Registry, Uuid};
use indicatif::ProgressBar;

use crate::input::{self, Limits, LineReader, StreamError};
use crate::lanes::{self, BatchLine, Lanes, LineBatch, Settle, Worker};
use crate::same_file::{self, Named};
use crate::shutdown::{Shutdown, EXIT_INTERRUPTED};
use crate::{progress, CliError};

pub use html::html;

/// Arguments of `webaction report`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The newline-delimited JSON file to read; `-` or nothing reads standard input.
    pub file: Option<PathBuf>,
    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Also write the report as one self-contained HTML page (inline SVG and CSS, nothing
    /// loaded from elsewhere) to this file.
    #[arg(long, value_name = "OUT.html")]
    pub html: Option<PathBuf>,
    /// List states no action reached and steps no action took (hidden by default, in the
    /// text and the HTML page; `--json` always has them).
    #[arg(long)]
    pub all_states: bool,
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

/// One declared step out of a reached state: how many actions took it, of how many that
/// reached its source.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Conversion {
    /// The source state's wire name.
    pub from: &'static str,
    /// The target state's wire name.
    pub to: &'static str,
    /// The source state's index.
    pub from_index: usize,
    /// The target state's index.
    pub to_index: usize,
    /// Actions that took the step.
    pub actions: u64,
    /// Actions that reached `from`.
    pub base: u64,
    /// `actions / base`.
    pub rate: f64,
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

    /// Valid events of this map: each one moved one action into one state.
    pub fn events(&self) -> u64 {
        self.reached.iter().sum()
    }

    /// The share of this map's actions that reached state `index` (0 when none started).
    pub fn share(&self, index: usize) -> f64 {
        ratio(self.reached[index], self.actions())
    }

    /// Each declared step whose source state was reached, in declaration order.
    pub fn conversions(&self) -> Vec<Conversion> {
        self.media
            .transitions()
            .filter_map(|(from, to)| {
                let from_index = self.index(from.wire_name);
                let to_index = self.index(to.wire_name);
                let base = self.reached[from_index];
                (base > 0).then(|| {
                    let actions = self
                        .steps
                        .get(&(from_index, to_index))
                        .copied()
                        .unwrap_or(0);
                    Conversion {
                        from: from.wire_name,
                        to: to.wire_name,
                        from_index,
                        to_index,
                        actions,
                        base,
                        rate: ratio(actions, base),
                    }
                })
            })
            .collect()
    }

    /// Adds the counts of `other`, a report of the same map from other actions.
    fn add(&mut self, other: MapReport) {
        for (sum, count) in self.reached.iter_mut().zip(other.reached) {
            *sum += count;
        }
        for (step, count) in other.steps {
            *self.steps.entry(step).or_insert(0) += count;
        }
    }

    fn index(&self, wire_name: &str) -> usize {
        self.media
            .states
            .iter()
            .position(|s| s.wire_name == wire_name)
            .unwrap_or(0)
    }
}

/// `part / whole`, 0 when `whole` is 0.
pub fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// The whole report: ingest counts, rejected lines by media type, one entry per map.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// What ingest saw.
    pub stats: IngestStats,
    /// Per action map, in registry order, then by id and version.
    pub maps: BTreeMap<MapKey, MapReport>,
    /// The registry's media types, in order ([`MapKey::media_index`] points here).
    pub media_types: Vec<&'static MediaTypeDescription>,
    /// Rejected lines by media type (same order) and [`ErrorKind::index`].
    pub rejected_by_media: Vec<[u64; 7]>,
    /// Rejected lines whose media type is unknown, by [`ErrorKind::index`].
    pub rejected_unknown_media: [u64; 7],
}

/// One media type's block: its totals and its maps, most actions first.
#[derive(Debug, Clone)]
pub struct MediaSection<'a> {
    /// The media type.
    pub media: &'static MediaTypeDescription,
    /// Actions over all its maps.
    pub actions: u64,
    /// Valid events over all its maps.
    pub valid: u64,
    /// Its rejected lines, by [`ErrorKind::index`].
    pub rejected_by_kind: [u64; 7],
    /// Its maps, by number of actions (most first), then by id and version.
    pub maps: Vec<(&'a MapKey, &'a MapReport)>,
}

impl MediaSection<'_> {
    /// Its rejected lines.
    pub fn rejected(&self) -> u64 {
        self.rejected_by_kind.iter().sum()
    }

    /// Lines of this media type: valid and rejected.
    pub fn events(&self) -> u64 {
        self.valid + self.rejected()
    }
}

impl Report {
    /// The media types that have a map or a rejected line, in registry order, each with
    /// its maps ordered by volume. Every renderer walks this, so all show the same order.
    pub fn sections(&self) -> Vec<MediaSection<'_>> {
        let mut sections: Vec<MediaSection<'_>> = self
            .media_types
            .iter()
            .enumerate()
            .map(|(i, &media)| MediaSection {
                media,
                actions: 0,
                valid: 0,
                rejected_by_kind: self.rejected_by_media.get(i).copied().unwrap_or_default(),
                maps: Vec::new(),
            })
            .collect();
        for (key, map) in &self.maps {
            // A map of a media type outside the registry cannot come from ingest; keep
            // it visible rather than drop it.
            if key.media_index >= sections.len() {
                sections.push(MediaSection {
                    media: map.media,
                    actions: 0,
                    valid: 0,
                    rejected_by_kind: [0; 7],
                    maps: Vec::new(),
                });
            }
            let section = sections
                .iter_mut()
                .find(|s| s.media.wire_name == map.media.wire_name)
                .expect("a section per media type");
            section.actions += map.actions();
            section.valid += map.events();
            section.maps.push((key, map));
        }
        for section in &mut sections {
            section
                .maps
                .sort_by(|a, b| b.1.actions().cmp(&a.1.actions()).then(a.0.cmp(b.0)));
        }
        sections.retain(|s| !s.maps.is_empty() || s.rejected() > 0);
        sections
    }

    /// Rejected lines whose media type is unknown.
    pub fn rejected_unknown(&self) -> u64 {
        self.rejected_unknown_media.iter().sum()
    }
}

/// Accumulates valid events into per-map counts. It remembers nothing per action: the
/// state an action stepped from comes from the ingest tracker ([`Emit::emit_step`]), so
/// memory is the tracker's (bounded by its cap) plus one entry per action map.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub(crate) maps: BTreeMap<MapKey, MapReport>,
    pub(crate) media_types: Vec<&'static MediaTypeDescription>,
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

/// The registered media type a rejected line claims, if any: the decoded event's for an
/// illegal transition, else its `actionMediaType` when the line is a JSON object whose
/// `actionMediaType` is a registered name. Only rejected lines pay for the second parse.
pub(crate) fn claimed_media_type(
    outcome: &Outcome,
    line: &[u8],
    media_types: &[&'static MediaTypeDescription],
) -> Option<usize> {
    let Outcome::Rejected(rejection) = outcome else {
        return None;
    };
    let position = |name: &str| media_types.iter().position(|m| m.wire_name == name);
    if let Some(event) = &rejection.event {
        return position(event.media_type().wire_name);
    }
    match rejection.error.kind() {
        ErrorKind::MissingField | ErrorKind::InvalidField | ErrorKind::UnknownState => {
            let value: serde_json::Value = serde_json::from_slice(line).ok()?;
            position(value.get("actionMediaType")?.as_str()?)
        }
        _ => None,
    }
}

/// Reads `reader` and tallies its valid events. Only events the ingest pipeline accepts
/// count toward the maps: a rejected line changes no map, so rates are over valid
/// lifecycles; it counts toward its media type's rejected lines (see the module docs).
///
/// Once `shutdown` is requested (a signal), reading stops at the next line: the report then
/// covers every line read.
pub fn report_stream(
    reader: impl BufRead,
    registry: &Registry,
    limits: &Limits,
    progress: &ProgressBar,
    shutdown: &Shutdown,
) -> Result<Report, StreamError> {
    let media_types: Vec<_> = registry.iter().map(|e| e.description).collect();
    let workers = limits.threads();
    let ingest = limits.ingest(registry, Discard);
    let lanes = Lanes::new(workers, ingest.decoder().clone(), |_| ReportWorker {
        ingest: limits.worker_ingest(
            registry,
            Tally {
                media_types: media_types.clone(),
                ..Tally::default()
            },
            workers,
        ),
        rejected: Rejected::new(media_types.len()),
        media_types: media_types.clone(),
    });
    let mut lines = LineReader::new(reader, limits.max_line_bytes);
    let mut reader_side = TooLarge {
        ingest,
        rejected: Rejected::new(media_types.len()),
    };
    let parts = lanes::feed(lanes, &mut lines, &mut reader_side, progress, shutdown)?;
    let mut stats = vec![*reader_side.ingest.stats()];
    let mut rejected = reader_side.rejected;
    let mut maps = BTreeMap::new();
    for (part_stats, tally, part_rejected) in parts {
        stats.push(part_stats);
        rejected.add(&part_rejected);
        for (key, map) in tally.maps {
            match maps.entry(key) {
                std::collections::btree_map::Entry::Vacant(entry) => {
                    entry.insert(map);
                }
                std::collections::btree_map::Entry::Occupied(mut entry) => {
                    entry.get_mut().add(map);
                }
            }
        }
    }
    Ok(Report {
        stats: lanes::total(stats),
        maps,
        media_types,
        rejected_by_media: rejected.by_media,
        rejected_unknown_media: rejected.unknown_media,
    })
}

/// Rejected lines by the media type they claim and by kind.
#[derive(Debug, Clone)]
struct Rejected {
    by_media: Vec<[u64; 7]>,
    unknown_media: [u64; 7],
}

impl Rejected {
    fn new(media_types: usize) -> Self {
        Rejected {
            by_media: vec![[0; 7]; media_types],
            unknown_media: [0; 7],
        }
    }

    fn count(&mut self, claimed: Option<usize>, kind: ErrorKind) {
        match claimed {
            Some(media) => self.by_media[media][kind.index()] += 1,
            None => self.unknown_media[kind.index()] += 1,
        }
    }

    fn add(&mut self, other: &Rejected) {
        let pairs = self.by_media.iter_mut().zip(&other.by_media);
        for (sum, part) in pairs.chain([(&mut self.unknown_media, &other.unknown_media)]) {
            for (sum, count) in sum.iter_mut().zip(part) {
                *sum += count;
            }
        }
    }
}

/// One thread of `report`: it tallies its actions' events, and counts its rejected
/// lines. Counts add up, so nothing comes back per line.
struct ReportWorker {
    ingest: Ingest<Tally>,
    rejected: Rejected,
    media_types: Vec<&'static MediaTypeDescription>,
}

impl Worker for ReportWorker {
    type Settled = ();
    type Summary = (IngestStats, Tally, Rejected);

    fn judge(&mut self, lines: &[(u64, &[u8])], settled: &mut Vec<()>) {
        let (media_types, rejected) = (&self.media_types, &mut self.rejected);
        self.ingest.ingest_batch_at(lines, |i, outcome| {
            if let Some(error) = outcome.error() {
                let claimed = claimed_media_type(&outcome, lines[i].1, media_types);
                rejected.count(claimed, error.kind());
            }
            settled.push(());
        });
    }

    fn finish(self) -> Self::Summary {
        let stats = *self.ingest.stats();
        (stats, self.ingest.into_emitter(), self.rejected)
    }
}

/// The reader's side of `report`: lines over the limit claim no media type.
struct TooLarge {
    ingest: Ingest<Discard>,
    rejected: Rejected,
}

impl Settle<()> for TooLarge {
    fn settled(&mut self, _: &LineBatch, _: &BatchLine, (): ()) {}

    fn too_large<R: BufRead>(
        &mut self,
        lines: &mut LineReader<R>,
        _: u64,
        head: &[u8],
    ) -> Result<(), StreamError> {
        lanes::skip_too_large(lines, &mut self.ingest, head)?;
        self.rejected.count(None, ErrorKind::TooLarge);
        Ok(())
    }
}

/// Runs `webaction report`.
pub fn run(args: &Args, registry: &Registry) -> Result<ExitCode, CliError> {
    if let Some(page) = &args.html {
        let input = args.file.clone().unwrap_or_else(|| "-".into());
        same_file::refuse_overlap(
            &[Named::new("the input", &input)],
            &[Named::new("--html", page)],
        )?;
    }
    let input = input::open(args.file.as_deref())?;
    let bar = progress::bar(input.len, "reading");
    let shutdown = crate::shutdown::install_or_warn();
    let report = report_stream(input.reader, registry, &args.limits, &bar, &shutdown).map_err(
        |e| match e {
            StreamError::Read(e) | StreamError::Write(e) => {
                CliError::io("cannot read", &input.path, e)
            }
        },
    )?;
    bar.finish_and_clear();
    let view = View {
        all_states: args.all_states,
    };
    if let Some(path) = &args.html {
        std::fs::write(path, html::html_with(&report, &view))
            .map_err(|e| CliError::io("cannot write", path, e))?;
    }
    let text = if args.json {
        format!("{}\n", report.to_json())
    } else {
        report.to_text_with(&view)
    };
    crate::write_stdout(text.as_bytes())?;
    if let Some(interrupt) = shutdown.interrupt() {
        eprintln!(
            "webaction: interrupted by {}: the report covers the {} line(s) read",
            interrupt.name(),
            report.stats.events
        );
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    Ok(ExitCode::SUCCESS)
}

/// What the text report and the HTML page show beyond the default.
#[derive(Debug, Clone, Copy, Default)]
pub struct View {
    /// Also list states no action reached and steps no action took.
    pub all_states: bool,
}

/// How the generated docs name a state's kind (`docs/events/<media>.md`, "Terminal or
/// end"); `None` for a state that others may follow.
pub fn kind_label(kind: events_core::StateKind) -> Option<&'static str> {
    match kind {
        events_core::StateKind::Open => None,
        events_core::StateKind::Terminal => Some("terminal"),
        events_core::StateKind::End => Some("end (not terminal)"),
    }
}

/// The legend every rendering carries: the two kinds of count are easy to confuse.
pub const LEGEND: &str = "reached = actions that reached a state (share = of the map's \
    actions, i.e. of those offered); step = actions that took that transition (rate = of \
    the actions that reached its source). A state can be reached by several steps, so its \
    count can exceed any one step's.";
