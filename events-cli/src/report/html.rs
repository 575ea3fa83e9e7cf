//! The report as one self-contained HTML page: per media type a total block, then per
//! action map one inline SVG with the funnel of states reached and the flow of steps
//! taken.
//!
//! Self-contained means nothing is loaded from elsewhere: no script, no font, no image;
//! CSS and SVG are inline, and a Content-Security-Policy of `default-src 'none'` makes the
//! browser refuse any load a later change might add. The SVGs are hand-written: the flow
//! diagram is a layered graph no chart crate draws, and the funnel is a row of bars whose
//! text must be real, selectable `<text>` with a `<title>` per figure, which is simpler to
//! guarantee by writing the few elements than by post-processing a plotting backend.
//!
//! Every SVG element is written with an explicit end tag (`{}` in maud): in HTML, a
//! `<rect ...>` start tag without `/>` or `</rect>` would swallow its next siblings.

use maud::{html as markup, Markup, PreEscaped, DOCTYPE};

use events_core::{MediaTypeDescription, StateKind};

use super::text::by_kind;
use super::{kind_label, Conversion, MapKey, MapReport, MediaSection, Report, View, LEGEND};

/// The page's Content-Security-Policy: inline styles only, so the browser itself blocks
/// any network (or file) load.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

// Sizes every node or bar shares, and text anchors, are in the stylesheet rather than on
// each element: 14 % of the page at 10,000 maps (BENCHMARKS.md). NODE_W, NODE_H and the
// bar height (ROW - 6) must match the numbers here.
const STYLE: &str = "\
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d2330;max-width:1040px}\
h1{font-size:22px;margin:0 0 8px}h2{font-size:18px;margin:28px 0 6px;border-bottom:2px solid #1d2330}\
h3{font-size:14px;margin:18px 0 4px;font-weight:600}\
.legend{background:#f2f4f8;padding:8px 12px;border-radius:4px}\
table.totals{border-collapse:collapse}table.totals td,table.totals th{padding:2px 12px 2px 0;text-align:left}\
table.totals td.n{text-align:right;font-variant-numeric:tabular-nums}\
svg{display:block;font:12px system-ui,sans-serif;width:100%;max-width:1000px;height:auto}\
.bar{fill:#4c78a8}.terminal .bar{fill:#e45756}.end .bar{fill:#f58518}\
.node rect{fill:#fff;stroke:#4c78a8;stroke-width:1.5;width:88px;height:30px;rx:4px}.node text{text-anchor:middle}.edge text{text-anchor:end}.bar{height:16px}\
.node.terminal rect{stroke:#e45756;stroke-width:3}.node.end rect{stroke:#f58518;stroke-width:3;stroke-dasharray:5 2}\
.edge path{fill:none;stroke:#4c78a8;stroke-opacity:.45}\
.edge text,.node text{paint-order:stroke;stroke:#fff;stroke-width:3px}\
.kind{font-size:10px;fill:#5a6270}.head{font-weight:600}.n,.share,.rate{font-variant-numeric:tabular-nums}";

const FLOW_X: u32 = 430;
const FLOW_WIDTH: u32 = 570;
const ROW: u32 = 22;
const TOP: u32 = 30;
const NODE_W: u32 = 88;
const NODE_H: u32 = 30;
const NODE_GAP: u32 = 18;
const BAR_X: u32 = 76;
const BAR_MAX: f64 = 150.0;

/// The page, with states no action reached hidden.
pub fn html(report: &Report) -> String {
    html_with(report, &View::default())
}

/// The page for `view`.
pub fn html_with(report: &Report, view: &View) -> String {
    let stats = &report.stats;
    let sections = report.sections();
    let mut figure = 0usize;
    let page = markup! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="Content-Security-Policy" content=(CONTENT_SECURITY_POLICY);
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Action map performance report" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { "Action map performance report" }
                p.summary {
                    (stats.events) " events: " (stats.valid) " valid, "
                    (stats.rejected) " rejected"
                }
                p.legend {
                    strong { "Legend. " } (LEGEND)
                    " Terminal states (red, thick border): nothing follows and the action \
                      map does not offer the same thing to that visitor again; end states \
                      (orange, dashed border): nothing follows, without being terminal."
                }
                @if report.rejected_unknown() > 0 {
                    section.unknown {
                        h2 { "Media type unknown" }
                        p { (report.rejected_unknown()) " rejected lines: "
                            (by_kind(&report.rejected_unknown_media).unwrap_or_default()) }
                    }
                }
                @for section in &sections {
                    (media_section(section, view, &mut figure))
                }
            }
        }
    };
    page.into_string()
}

fn media_section(section: &MediaSection<'_>, view: &View, figure: &mut usize) -> Markup {
    let layout = Layout::new(section.media);
    markup! {
        section.media data-media-type=(section.media.wire_name) {
            h2 { (section.media.wire_name) }
            table.totals {
                tr { th { "action maps" } td.n { (section.maps.len()) } }
                tr { th { "actions" } td.n { (section.actions) } }
                tr { th { "events" } td.n { (section.events()) } }
                tr { th { "valid" } td.n { (section.valid) } }
                tr { th { "rejected" } td.n { (section.rejected()) } }
                @for kind in events_core::ingest::ErrorKind::ALL {
                    @let n = section.rejected_by_kind[kind.index()];
                    @if n > 0 {
                        tr { th { "rejected: " (kind.as_str()) } td.n { (n) } }
                    }
                }
            }
            @for (key, map) in &section.maps {
                (map_figure(key, map, &layout, view, figure))
            }
        }
    }
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn kind_class(kind: StateKind) -> &'static str {
    match kind {
        StateKind::Open => "open",
        StateKind::Terminal => "terminal",
        StateKind::End => "end",
    }
}

fn map_figure(
    key: &MapKey,
    map: &MapReport,
    layout: &Layout,
    view: &View,
    figure: &mut usize,
) -> Markup {
    *figure += 1;
    let id = format!("f{figure}");
    let shown: Vec<usize> = (0..map.reached.len())
        .filter(|&i| view.all_states || map.reached[i] > 0)
        .collect();
    let steps: Vec<_> = map
        .conversions()
        .into_iter()
        .filter(|c| view.all_states || c.actions > 0)
        .collect();
    let funnel_height = TOP + ROW * shown.len() as u32 + 6;
    let height = funnel_height.max(layout.height());
    let actions = map.actions();
    let widest = steps.iter().map(|c| c.actions).max().unwrap_or(0).max(1);
    let name = format!(
        "{} action map {} v{}",
        map.media.wire_name, key.action_map_id, key.action_map_version
    );
    markup! {
        h3 { (name) " · " (actions) " actions" }
        svg.action-map xmlns="http://www.w3.org/2000/svg" role="group"
            aria-labelledby=(id) width="1000" height=(height)
            viewBox={"0 0 1000 " (height)}
            data-action-map-id=(key.action_map_id)
            data-action-map-version=(key.action_map_version)
            data-actions=(actions) {
            title id=(id) {
                (name) ": " (actions) " actions; left, the actions that reached each \
                state; right, the steps they took."
            }
            g.funnel {
                title { "Actions that reached each state, with their share of the map's "
                        (actions) " actions" }
                text.head x="0" y="16" { "Actions that reached each state" }
                text.head x=(BAR_X + BAR_MAX as u32 + 8) y="16" { "reached" }
                text.head x=(BAR_X + BAR_MAX as u32 + 70) y="16" { "share" }
                @for (row, &i) in shown.iter().enumerate() {
                    @let state = &map.media.states[i];
                    @let y = TOP + ROW * row as u32;
                    @let width = (BAR_MAX * map.share(i)).round().max(if map.reached[i] > 0 { 1.0 } else { 0.0 });
                    g.state.(kind_class(state.kind)) data-state=(state.wire_name) {
                        title { (state.wire_name) ": " (map.reached[i]) " actions reached it, "
                                (pct(map.share(i))) " of " (actions)
                                @if let Some(k) = kind_label(state.kind) { " (" (k) ")" } }
                        text x="0" y=(y + 14) { (state.wire_name) }
                        rect.bar x=(BAR_X) y=(y + 3) width=(width) {}
                        text.n x=(BAR_X + BAR_MAX as u32 + 8) y=(y + 14) { (map.reached[i]) }
                        text.share x=(BAR_X + BAR_MAX as u32 + 70) y=(y + 14) { (pct(map.share(i))) }
                        @if let Some(k) = kind_label(state.kind) {
                            text.kind x=(BAR_X + BAR_MAX as u32 + 122) y=(y + 14) { (k) }
                        }
                    }
                }
            }
            g.flow {
                title { "Steps taken, from state to state: actions and rate of those that \
                         reached the source; line width proportional to actions" }
                text.head x=(FLOW_X) y="16" { "Steps taken (actions · rate)" }
                @for (c, (out_k, out_m), (in_k, in_m)) in ports(&steps) {
                    @let (x1, y1) = layout.port(c.from_index, true, out_k, out_m);
                    @let (x2, y2) = layout.port(c.to_index, false, in_k, in_m);
                    @let mx = (x1 + x2) / 2.0;
                    @let stroke = 1.0 + 9.0 * c.actions as f64 / widest as f64;
                    g.edge data-from=(c.from) data-to=(c.to) {
                        title { (c.from) " → " (c.to) ": " (c.actions) " of " (c.base)
                                " actions, " (pct(c.rate)) }
                        path d=(format!("M{x1} {y1:.0}C{mx} {y1:.0} {mx} {y2:.0} {x2} {y2:.0}"))
                            stroke-width=(format!("{stroke:.1}")) {}
                        // The label sits just before the target, stacked with the other
                        // steps into it: beside the target it cannot be read as another
                        // step's, which a label at the middle of a fan-out could.
                        text x=(x2 - 3.0) y=(format!("{:.0}", layout.label_y(c.to_index, in_k, in_m))) {
                            tspan.n { (c.actions) } " · " tspan.rate { (pct(c.rate)) }
                        }
                    }
                }
                @for &i in &shown {
                    @let state = &map.media.states[i];
                    @let (x, y) = layout.node(i);
                    g.node.(kind_class(state.kind)) data-state=(state.wire_name) {
                        title { (state.wire_name)
                                @if let Some(k) = kind_label(state.kind) { " (" (k) ")" } }
                        rect x=(x) y=(y) {}
                        text x=(x + NODE_W / 2) y=(y + 13) { (state.wire_name) }
                        text.kind x=(x + NODE_W / 2) y=(y + 25) {
                            (kind_label(state.kind).unwrap_or(if state.initial { "initial" } else { "" }))
                        }
                    }
                }
            }
        }
    }
}

/// A step's place among those that share its source or its target: `(k, m)`, the
/// `k`-th of `m`.
type Slot = (usize, usize);

/// Each step with its position among the steps out of its source and among those into its
/// target: `(step, (k, m) out, (k, m) in)`.
fn ports(steps: &[Conversion]) -> Vec<(&Conversion, Slot, Slot)> {
    let position = |c: &Conversion, same: &dyn Fn(&Conversion) -> bool| {
        let k = steps
            .iter()
            .take_while(|o| !std::ptr::eq(*o, c))
            .filter(|o| same(o))
            .count();
        (k, steps.iter().filter(|o| same(o)).count())
    };
    steps
        .iter()
        .map(|c| {
            let out = position(c, &|o| o.from_index == c.from_index);
            let into = position(c, &|o| o.to_index == c.to_index);
            (c, out, into)
        })
        .collect()
}

/// Where each state of a media type sits in the flow diagram: columns by the longest
/// declared path from an initial state, so every step goes left to right and every map
/// of the media type puts each state at the same place.
#[derive(Debug)]
struct Layout {
    column: Vec<u32>,
    row: Vec<u32>,
    columns: u32,
    rows: u32,
}

impl Layout {
    fn new(media: &MediaTypeDescription) -> Layout {
        let n = media.states.len();
        let mut column = vec![0u32; n];
        // Longest path by relaxation; at most n rounds, so a declared cycle cannot loop
        // forever (its states just end up in late columns).
        for _ in 0..n {
            let mut changed = false;
            for (from, state) in media.states.iter().enumerate() {
                for &to in state.next {
                    if to != from && column[to] < column[from] + 1 && column[from] + 1 < n as u32 {
                        column[to] = column[from] + 1;
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        let columns = column.iter().max().map_or(1, |c| c + 1);
        let mut row = vec![0u32; n];
        let mut used = vec![0u32; columns as usize];
        // States others follow first, ending states below them: the main path then runs
        // along the top row, and the outcomes hang under it.
        let order = (0..n)
            .filter(|&i| !media.states[i].kind.ends_lifecycle())
            .chain((0..n).filter(|&i| media.states[i].kind.ends_lifecycle()));
        for i in order {
            row[i] = used[column[i] as usize];
            used[column[i] as usize] += 1;
        }
        Layout {
            column,
            row,
            columns,
            rows: used.into_iter().max().unwrap_or(1),
        }
    }

    fn height(&self) -> u32 {
        TOP + self.rows * (NODE_H + NODE_GAP)
    }

    fn node(&self, i: usize) -> (u32, u32) {
        let step = if self.columns > 1 {
            // Capped, so a two-column lifecycle is not stretched over the whole width.
            ((FLOW_WIDTH - NODE_W) / (self.columns - 1)).min(170)
        } else {
            0
        };
        (
            FLOW_X + self.column[i] * step,
            TOP + self.row[i] * (NODE_H + NODE_GAP),
        )
    }

    /// Where the `k`-th of `m` steps leaves (`out`) or enters state `i`: spread over the
    /// node's side so that the lines stay apart.
    fn port(&self, i: usize, out: bool, k: usize, m: usize) -> (f64, f64) {
        let (x, y) = self.node(i);
        let x = if out { x + NODE_W } else { x };
        let spread = if out { 4.0 } else { 6.0 };
        (
            f64::from(x),
            f64::from(y + NODE_H / 2) + (k as f64 - (m as f64 - 1.0) / 2.0) * spread,
        )
    }

    /// The baseline of the `k`-th of `m` labels of steps into state `i`.
    fn label_y(&self, i: usize, k: usize, m: usize) -> f64 {
        let (_, y) = self.node(i);
        f64::from(y + NODE_H / 2) + (k as f64 - (m as f64 - 1.0) / 2.0) * 13.0 + 4.0
    }
}
