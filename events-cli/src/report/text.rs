//! The text report: a legend, then per media type a total line and its maps by volume.

use std::fmt::Write;

use events_core::ingest::ErrorKind;

use super::{kind_label, MapKey, MapReport, Report, View, LEGEND};

/// `kind 3, kind 1` for the kinds with a count, or `None` when there is none.
pub(crate) fn by_kind(counts: &[u64; 7]) -> Option<String> {
    let parts: Vec<String> = ErrorKind::ALL
        .iter()
        .filter(|k| counts[k.index()] > 0)
        .map(|k| format!("{} {}", k.as_str(), counts[k.index()]))
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

impl Report {
    /// As text with the default view (states no action reached are hidden).
    pub fn to_text(&self) -> String {
        self.to_text_with(&View::default())
    }

    /// As text: the legend, then per media type its total and one block per action map,
    /// most actions first, then the ingest counts.
    pub fn to_text_with(&self, view: &View) -> String {
        let mut out = format!("Legend: {LEGEND}\n\n");
        for section in self.sections() {
            let _ = writeln!(
                out,
                "{} total · {} action map{} · {} actions · {} events: {} valid, {} rejected",
                section.media.wire_name,
                section.maps.len(),
                if section.maps.len() == 1 { "" } else { "s" },
                section.actions,
                section.events(),
                section.valid,
                section.rejected(),
            );
            if let Some(kinds) = by_kind(&section.rejected_by_kind) {
                let _ = writeln!(out, "  rejected by kind: {kinds}");
            }
            out.push('\n');
            for (key, map) in &section.maps {
                map_block(&mut out, key, map, view);
            }
        }
        if let Some(kinds) = by_kind(&self.rejected_unknown_media) {
            let _ = writeln!(out, "media type unknown · rejected by kind: {kinds}\n");
        }
        let _ = writeln!(
            out,
            "{} events: {} valid, {} rejected{}",
            self.stats.events,
            self.stats.valid,
            self.stats.rejected,
            if self.stats.rejected > 0 {
                " (`webaction check` lists them)"
            } else {
                ""
            }
        );
        out
    }
}

fn map_block(out: &mut String, key: &MapKey, map: &MapReport, view: &View) {
    let _ = writeln!(
        out,
        "{} · action map {} v{} · {} actions",
        map.media.wire_name,
        key.action_map_id,
        key.action_map_version,
        map.actions()
    );
    let width = map
        .media
        .states
        .iter()
        .map(|s| s.wire_name.len())
        .max()
        .unwrap_or(0)
        .max(5);
    let _ = writeln!(
        out,
        "  {:<width$}  {:>8}  {:>6}",
        "state", "reached", "share"
    );
    for (index, (state, &n)) in map.media.states.iter().zip(&map.reached).enumerate() {
        if n == 0 && !view.all_states {
            continue;
        }
        let kind = kind_label(state.kind)
            .map(|k| format!("  {k}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {:<width$}  {n:>8}  {:>5.1}%{kind}",
            state.wire_name,
            map.share(index) * 100.0
        );
    }
    let step = 2 * width + 4;
    let _ = writeln!(out, "  {:<step$}  {:>15}  {:>6}", "step", "actions", "rate");
    for c in map.conversions() {
        if c.actions == 0 && !view.all_states {
            continue;
        }
        let _ = writeln!(
            out,
            "  {:<step$}  {:>15}  {:>5.1}%",
            format!("{} -> {}", c.from, c.to),
            format!("{}/{}", c.actions, c.base),
            c.rate * 100.0,
        );
    }
    out.push('\n');
}
