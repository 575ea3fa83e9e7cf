//! `webaction simulate`: realistic lifecycles of every registered media type, by walking
//! the declared graphs with a seeded random generator (same seed, same output).
//!
//! Actions interleave the way a collector sees them (up to [`CONCURRENT`] at once).
//! Visitors get several actions; each action map has its own taste for each transition,
//! so that reports show different conversion rates per map. With an invalid rate, that
//! fraction of actions gets exactly one defect, always one extra line that `check` rejects
//! and that leaves the rest of the action valid: an illegal step (a repeated state, a
//! skipped step, an event after the end, a first event that is not initial) or a broken
//! copy of one of its events (malformed JSON, a missing field, an invalid field, an
//! unknown media type, an unknown state).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use events_core::ingest::ErrorKind;
use events_core::{
    ActionIds, CustomerIdType, JsonType, MediaTypeDescription, Registry, StateDescription, Uuid,
};
use serde_json::{json, Map, Value};

use crate::CliError;

/// How many actions are in progress at once in the simulated stream.
pub const CONCURRENT: usize = 32;

/// Arguments of `webaction simulate`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// How many actions to simulate.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub actions: u64,
    /// The random seed: the same seed gives the same output.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// The fraction of actions (0 to 1) that get one illegal step or broken line. What was
    /// injected is printed on standard error.
    #[arg(long, value_name = "F", default_value_t = 0.0, value_parser = parse_rate)]
    pub invalid_rate: f64,
    /// Write here instead of standard output.
    #[arg(long, short, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Print what was injected as one JSON object on standard error:
    /// `{"actions": N, "events": N, "injected": N, "by_kind": {"<kind>": N, ...}}`.
    #[arg(long)]
    pub json_summary: bool,
}

fn parse_rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text.parse().map_err(|e| format!("`{text}`: {e}"))?;
    if (0.0..=1.0).contains(&rate) {
        Ok(rate)
    } else {
        Err(format!("`{text}` is not between 0 and 1"))
    }
}

/// What to simulate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Simulation {
    /// How many actions.
    pub actions: u64,
    /// The random seed.
    pub seed: u64,
    /// The fraction of actions that get one defect.
    pub invalid_rate: f64,
}

/// What a simulation wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimulationSummary {
    /// Actions simulated.
    pub actions: u64,
    /// Lines written (defects included).
    pub events: u64,
    /// Defects injected: each is one line `check` rejects.
    pub injected: u64,
    /// Defects by the kind `check` reports them as, by [`ErrorKind::index`].
    pub by_kind: [u64; 7],
}

impl SimulationSummary {
    /// As JSON: `{"actions", "events", "injected", "by_kind"}`.
    pub fn to_json(&self) -> Value {
        let by_kind: Map<String, Value> = ErrorKind::ALL
            .iter()
            .map(|kind| (kind.as_str().to_owned(), json!(self.by_kind[kind.index()])))
            .collect();
        json!({
            "actions": self.actions,
            "events": self.events,
            "injected": self.injected,
            "by_kind": by_kind,
        })
    }
}

/// SplitMix64: tiny, fast, and the same on every platform and in every version, which a
/// seeded simulation needs more than statistical strength.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`; `n` > 0.
    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn uuid(&mut self) -> Uuid {
        let bytes = (u128::from(self.next_u64()) << 64 | u128::from(self.next_u64())).to_be_bytes();
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }

    fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut pick = self.unit() * total;
        for (i, weight) in weights.iter().enumerate() {
            if pick < *weight {
                return i;
            }
            pick -= weight;
        }
        weights.len() - 1
    }
}

/// An action map of the simulation: its id, version, and weight for each transition.
struct ActionMap {
    media: &'static MediaTypeDescription,
    id: Uuid,
    version: u32,
    /// For each state, the weight of each of its successors (same order as `next`).
    weights: Vec<Vec<f64>>,
}

const MAPS_PER_MEDIA_TYPE: usize = 3;

fn action_maps(registry: &Registry, rng: &mut Rng) -> Vec<ActionMap> {
    let mut maps = Vec::new();
    for entry in registry.iter() {
        for _ in 0..MAPS_PER_MEDIA_TYPE {
            let states = entry.description.states;
            let weights = states
                .iter()
                .map(|state| {
                    state
                        .next
                        .iter()
                        .map(|&next| {
                            // Errors are rare; every other step has a taste per map.
                            let base = 1.0 + rng.unit() * 9.0;
                            if states[next].kind == events_core::StateKind::End {
                                base * 0.05
                            } else {
                                base
                            }
                        })
                        .collect()
                })
                .collect();
            maps.push(ActionMap {
                media: entry.description,
                id: rng.uuid(),
                version: 1 + rng.below(5) as u32,
                weights,
            });
        }
    }
    maps
}

/// One action's lines, in order, and the next to write.
struct Action {
    lines: Vec<Vec<u8>>,
    next: usize,
}

/// The fields every event of one action shares.
struct Common<'a> {
    media: &'static MediaTypeDescription,
    map: &'a ActionMap,
    action_id: Uuid,
    customer_id: Uuid,
    session_id: Uuid,
}

impl Common<'_> {
    fn event(&self, state: &StateDescription, rng: &mut Rng) -> Map<String, Value> {
        let ids = ActionIds {
            action_id: self.action_id,
            action_map_id: self.map.id,
            action_map_version: self.map.version,
            customer_id: self.customer_id,
            customer_id_type: CustomerIdType::Cookie,
            session_id: self.session_id,
        };
        ids.event_json(self.media, state, |field| {
            sample_value(field.json_type, rng)
        })
    }
}

fn sample_value(json_type: JsonType, rng: &mut Rng) -> Value {
    match json_type {
        JsonType::Uuid => json!(rng.uuid()),
        JsonType::String => json!("sample"),
        JsonType::Integer => json!(rng.below(1000)),
        JsonType::Number => json!(rng.unit()),
        JsonType::Boolean => json!(rng.below(2) == 1),
        JsonType::Array => json!([]),
        JsonType::Object => json!({}),
        JsonType::Any => Value::Null,
    }
}

fn line(event: &Map<String, Value>) -> Vec<u8> {
    // A map of strings to JSON values always serializes.
    serde_json::to_vec(event).unwrap_or_default()
}

/// The defects that can be injected into an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Defect {
    Repeat,
    Skip,
    AfterEnd,
    NotInitialFirst,
    Malformed,
    MissingField,
    InvalidField,
    UnknownMediaType,
    UnknownState,
}

impl Defect {
    const ALL: [Defect; 9] = [
        Defect::Repeat,
        Defect::Skip,
        Defect::AfterEnd,
        Defect::NotInitialFirst,
        Defect::Malformed,
        Defect::MissingField,
        Defect::InvalidField,
        Defect::UnknownMediaType,
        Defect::UnknownState,
    ];

    fn kind(self) -> ErrorKind {
        match self {
            Defect::Repeat | Defect::Skip | Defect::AfterEnd | Defect::NotInitialFirst => {
                ErrorKind::IllegalTransition
            }
            Defect::Malformed => ErrorKind::MalformedJson,
            Defect::MissingField => ErrorKind::MissingField,
            Defect::InvalidField => ErrorKind::InvalidField,
            Defect::UnknownMediaType => ErrorKind::UnknownMediaType,
            Defect::UnknownState => ErrorKind::UnknownState,
        }
    }
}

/// Builds one action: its walk of the graph, and a defect when asked. Returns the lines
/// and the kind of the injected defect.
fn build_action(
    common: &Common<'_>,
    registry: &Registry,
    rng: &mut Rng,
    inject: bool,
) -> (Vec<Vec<u8>>, Option<ErrorKind>) {
    let states = common.media.states;
    let initial: Vec<usize> = (0..states.len()).filter(|&i| states[i].initial).collect();
    let mut walk = vec![initial[rng.below(initial.len())]];
    loop {
        let current = *walk.last().unwrap_or(&0);
        let state = &states[current];
        if state.kind.ends_lifecycle() || state.next.is_empty() {
            break;
        }
        let choice = rng.weighted(&common.map.weights[current]);
        walk.push(state.next[choice]);
    }
    let events: Vec<Map<String, Value>> = walk
        .iter()
        .map(|&state| common.event(&states[state], rng))
        .collect();
    let mut lines: Vec<Vec<u8>> = events.iter().map(line).collect();
    if !inject {
        return (lines, None);
    }
    // Try defects in a random order until one applies to this walk.
    let start = rng.below(Defect::ALL.len());
    for offset in 0..Defect::ALL.len() {
        let defect = Defect::ALL[(start + offset) % Defect::ALL.len()];
        if let Some((at, extra)) = defect_line(defect, common, registry, &walk, &events, rng) {
            lines.insert(at, extra);
            return (lines, Some(defect.kind()));
        }
    }
    (lines, None)
}

/// The extra line for `defect` and where it goes, or `None` when the walk does not allow
/// it (e.g. no state that may not follow).
fn defect_line(
    defect: Defect,
    common: &Common<'_>,
    registry: &Registry,
    walk: &[usize],
    events: &[Map<String, Value>],
    rng: &mut Rng,
) -> Option<(usize, Vec<u8>)> {
    let states = common.media.states;
    let open: Vec<usize> = (0..walk.len())
        .filter(|&i| !states[walk[i]].kind.ends_lifecycle())
        .collect();
    let with_state = |state: usize, rng: &mut Rng| line(&common.event(&states[state], rng));
    match defect {
        Defect::Repeat => {
            let &at = open.get(rng.below(open.len().max(1)))?;
            let state = walk[at];
            if states[state].next.contains(&state) {
                return None;
            }
            Some((at + 1, line(&events[at])))
        }
        Defect::Skip => {
            let &at = open.get(rng.below(open.len().max(1)))?;
            let from = &states[walk[at]];
            let illegal: Vec<usize> = (0..states.len())
                .filter(|&s| s != walk[at] && !from.next.contains(&s))
                .collect();
            let &to = illegal.get(rng.below(illegal.len().max(1)))?;
            Some((at + 1, with_state(to, rng)))
        }
        Defect::AfterEnd => {
            let last = *walk.last()?;
            if !states[last].kind.ends_lifecycle() {
                return None;
            }
            // A state that cannot start a lifecycle is refused even once the tracker
            // has forgotten the ended action.
            let late: Vec<usize> = (0..states.len()).filter(|&s| !states[s].initial).collect();
            let &to = late.get(rng.below(late.len().max(1)))?;
            Some((walk.len(), with_state(to, rng)))
        }
        Defect::NotInitialFirst => {
            let late: Vec<usize> = (0..states.len()).filter(|&s| !states[s].initial).collect();
            let &to = late.get(rng.below(late.len().max(1)))?;
            Some((0, with_state(to, rng)))
        }
        Defect::Malformed => {
            let at = rng.below(events.len());
            let mut broken = line(&events[at]);
            // Any proper prefix of an object is unterminated.
            broken.truncate(1 + rng.below(broken.len() - 1));
            Some((at + 1, broken))
        }
        Defect::MissingField => {
            let at = rng.below(events.len());
            let mut event = events[at].clone();
            let required: Vec<&str> = events_core::DOCUMENTED_FIELDS
                .iter()
                .filter(|f| f.required)
                .map(|f| f.wire_name)
                .collect();
            event.shift_remove(required[rng.below(required.len())]);
            Some((at + 1, line(&event)))
        }
        Defect::InvalidField => {
            let at = rng.below(events.len());
            let mut event = events[at].clone();
            let (field, value) = [
                ("actionId", json!("not-a-uuid")),
                ("actionMapVersion", json!("three")),
                ("customerId", json!(42)),
                ("sessionId", json!([])),
            ][rng.below(4)]
            .clone();
            event.insert(field.into(), value);
            Some((at + 1, line(&event)))
        }
        Defect::UnknownMediaType => {
            let at = rng.below(events.len());
            let mut event = events[at].clone();
            let mut name = format!("{}x", common.media.wire_name);
            while registry.get(&name).is_some() {
                name.push('x');
            }
            event.insert("actionMediaType".into(), json!(name));
            Some((at + 1, line(&event)))
        }
        Defect::UnknownState => {
            let at = rng.below(events.len());
            let mut event = events[at].clone();
            let mut name = format!("{}x", states[walk[at]].wire_name);
            while common.media.state(&name).is_some() {
                name.push('x');
            }
            event.insert("actionState".into(), json!(name));
            Some((at + 1, line(&event)))
        }
    }
}

/// Writes the simulated stream to `out`, one event per line.
pub fn simulate(
    registry: &Registry,
    simulation: &Simulation,
    out: &mut impl Write,
) -> io::Result<SimulationSummary> {
    let mut summary = SimulationSummary::default();
    if registry.iter().next().is_none() || simulation.actions == 0 {
        return Ok(summary);
    }
    let mut rng = Rng(simulation.seed);
    let maps = action_maps(registry, &mut rng);
    let visitors: Vec<(Uuid, Uuid)> = (0..simulation.actions / 3 + 1)
        .map(|_| (rng.uuid(), rng.uuid()))
        .collect();
    let mut active: Vec<Action> = Vec::with_capacity(CONCURRENT);
    let mut started = 0;
    while started < simulation.actions || !active.is_empty() {
        if started < simulation.actions && active.len() < CONCURRENT {
            let map = &maps[rng.below(maps.len())];
            let (customer_id, session_id) = visitors[rng.below(visitors.len())];
            let common = Common {
                media: map.media,
                map,
                action_id: rng.uuid(),
                customer_id,
                session_id,
            };
            let inject = simulation.invalid_rate > 0.0 && rng.unit() < simulation.invalid_rate;
            let (lines, defect) = build_action(&common, registry, &mut rng, inject);
            if let Some(kind) = defect {
                summary.injected += 1;
                summary.by_kind[kind.index()] += 1;
            }
            active.push(Action { lines, next: 0 });
            started += 1;
            summary.actions += 1;
            continue;
        }
        let pick = rng.below(active.len());
        let action = &mut active[pick];
        out.write_all(&action.lines[action.next])?;
        out.write_all(b"\n")?;
        summary.events += 1;
        action.next += 1;
        if action.next == action.lines.len() {
            active.swap_remove(pick);
        }
    }
    Ok(summary)
}

/// Runs `webaction simulate`.
pub fn run(args: &Args, registry: &Registry) -> Result<ExitCode, CliError> {
    let simulation = Simulation {
        actions: args.actions,
        seed: args.seed,
        invalid_rate: args.invalid_rate,
    };
    let (summary, target) = match &args.output {
        Some(path) => {
            let file = File::create(path).map_err(|e| CliError::io("cannot create", path, e))?;
            let mut out = BufWriter::new(file);
            let summary = simulate(registry, &simulation, &mut out)
                .and_then(|summary| out.flush().map(|()| summary))
                .map_err(|e| CliError::io("cannot write", path, e))?;
            (summary, path.clone())
        }
        None => {
            let mut out = BufWriter::new(io::stdout().lock());
            let written =
                simulate(registry, &simulation, &mut out).and_then(|s| out.flush().map(|()| s));
            let summary = match written {
                Ok(summary) => summary,
                // `simulate | head`: the reader has what it wanted, and a generated stream
                // loses nothing by stopping early. Every other command treats a closed
                // pipe as an error, because there it loses output.
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
                Err(e) => return Err(CliError::io("cannot write", "-", e)),
            };
            (summary, PathBuf::from("-"))
        }
    };
    if args.json_summary {
        eprintln!("{}", summary.to_json());
    } else if args.invalid_rate > 0.0 {
        let kinds: Vec<String> = ErrorKind::ALL
            .iter()
            .filter(|kind| summary.by_kind[kind.index()] > 0)
            .map(|kind| format!("{} {}", summary.by_kind[kind.index()], kind))
            .collect();
        eprintln!(
            "webaction simulate: {} actions, {} events to {}; injected {} defects ({})",
            summary.actions,
            summary.events,
            target.display(),
            summary.injected,
            if kinds.is_empty() {
                "none".to_owned()
            } else {
                kinds.join(", ")
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}
