//! The figures of each action map as the text report, `--json` and the HTML page (its
//! source or the DOM a browser built from it) show them, read back from each, so that a
//! test can compare what the reader sees with what `--json` says.
//!
//! The HTML is read by scanning for the page's own markup (classes and data attributes of
//! `report/html.rs`), not with a general HTML parser: the page is ours, and both maud's
//! output and Chromium's `--dump-dom` serialize attributes in source order.

use serde_json::Value;

/// One action map's figures: those the page and the text show by default (states some
/// action reached, steps some action took). Shares and rates are in tenths of a percent,
/// as displayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MapFigures {
    pub(crate) media_type: String,
    pub(crate) id: String,
    pub(crate) version: u64,
    pub(crate) actions: u64,
    /// `(state, actions that reached it, share)`.
    pub(crate) reached: Vec<(String, u64, i64)>,
    /// `(from, to, actions that took it, rate)`.
    pub(crate) steps: Vec<(String, String, u64, i64)>,
}

fn tenths(ratio: f64) -> i64 {
    (ratio * 1000.0).round() as i64
}

/// `"20.7%"` as 207.
fn percent(text: &str) -> i64 {
    let number = text
        .trim()
        .strip_suffix('%')
        .unwrap_or_else(|| panic!("not a percentage: {text:?}"));
    (number.parse::<f64>().unwrap() * 10.0).round() as i64
}

/// From `webaction report --json`.
pub(crate) fn from_json(report: &Value) -> Vec<MapFigures> {
    report["action_maps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|map| MapFigures {
            media_type: map["media_type"].as_str().unwrap().to_owned(),
            id: map["action_map_id"].as_str().unwrap().to_owned(),
            version: map["action_map_version"].as_u64().unwrap(),
            actions: map["actions"].as_u64().unwrap(),
            reached: map["funnel"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| s["reached"].as_u64().unwrap() > 0)
                .map(|s| {
                    (
                        s["state"].as_str().unwrap().to_owned(),
                        s["reached"].as_u64().unwrap(),
                        tenths(s["share"].as_f64().unwrap()),
                    )
                })
                .collect(),
            steps: map["conversions"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|c| c["actions"].as_u64().unwrap() > 0)
                .map(|c| {
                    (
                        c["from"].as_str().unwrap().to_owned(),
                        c["to"].as_str().unwrap().to_owned(),
                        c["actions"].as_u64().unwrap(),
                        tenths(c["rate"].as_f64().unwrap()),
                    )
                })
                .collect(),
        })
        .collect()
}

/// From the text report.
pub(crate) fn from_text(text: &str) -> Vec<MapFigures> {
    let mut maps = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some((media_type, rest)) = line.split_once(" · action map ") else {
            continue;
        };
        let (id, rest) = rest.split_once(" v").unwrap();
        let (version, actions) = rest.split_once(" · ").unwrap();
        let mut map = MapFigures {
            media_type: media_type.to_owned(),
            id: id.to_owned(),
            version: version.parse().unwrap(),
            actions: actions.strip_suffix(" actions").unwrap().parse().unwrap(),
            reached: Vec::new(),
            steps: Vec::new(),
        };
        assert!(
            lines.next().unwrap().trim_start().starts_with("state"),
            "{text}"
        );
        for row in lines.by_ref() {
            let cells: Vec<&str> = row.split_whitespace().collect();
            if cells[0] == "step" {
                break;
            }
            map.reached.push((
                cells[0].to_owned(),
                cells[1].parse().unwrap(),
                percent(cells[2]),
            ));
        }
        for row in lines.by_ref().take_while(|row| !row.is_empty()) {
            let cells: Vec<&str> = row.split_whitespace().collect();
            assert_eq!(cells[1], "->", "{row}");
            let (took, _base) = cells[3].split_once('/').unwrap();
            map.steps.push((
                cells[0].to_owned(),
                cells[2].to_owned(),
                took.parse().unwrap(),
                percent(cells[4]),
            ));
        }
        maps.push(map);
    }
    maps
}

/// The value of attribute `name` in the start tag `tag` (from `<` up to `>`).
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    Some(&tag[start..start + tag[start..].find('"')?])
}

/// The start tags beginning with `prefix` in `html`, each with the text after it.
fn elements<'a>(html: &'a str, prefix: &str) -> Vec<(&'a str, &'a str)> {
    html.match_indices(prefix)
        .map(|(at, _)| {
            let end = at + html[at..].find('>').unwrap() + 1;
            (&html[at..end], &html[end..])
        })
        .collect()
}

/// The text of the first `<{tag} class="{class}"` element in `html`.
fn text_of<'a>(html: &'a str, tag: &str, class: &str) -> &'a str {
    let (_, after) = elements(html, &format!("<{tag} class=\"{class}\""))
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no {tag}.{class} in {}", &html[..html.len().min(400)]));
    &after[..after.find('<').unwrap()]
}

/// From the HTML page (its source or a browser's DOM). Also checks what the numbers do
/// not show: each SVG, funnel, flow, state, step and node has a `<title>` as its first
/// child, and the flow draws a node for exactly the states the funnel lists.
pub(crate) fn from_html(html: &str) -> Vec<MapFigures> {
    let mut maps = Vec::new();
    for (svg_tag, rest) in elements(html, "<svg class=\"action-map\"") {
        let svg = &rest[..rest.find("</svg>").unwrap()];
        assert!(
            svg.starts_with("<title"),
            "an SVG without a title: {svg_tag}"
        );
        for group in [
            "<g class=\"funnel\"",
            "<g class=\"flow\"",
            "<g class=\"state",
            "<g class=\"edge\"",
            "<g class=\"node",
        ] {
            for (tag, after) in elements(svg, group) {
                assert!(after.starts_with("<title"), "{tag} has no title");
            }
        }
        let mut map = MapFigures {
            media_type: html[..html.len() - rest.len()]
                .rmatch_indices("data-media-type=\"")
                .next()
                .map(|(at, _)| {
                    let value = &html[at + 17..];
                    value[..value.find('"').unwrap()].to_owned()
                })
                .unwrap(),
            id: attr(svg_tag, "data-action-map-id").unwrap().to_owned(),
            version: attr(svg_tag, "data-action-map-version")
                .unwrap()
                .parse()
                .unwrap(),
            actions: attr(svg_tag, "data-actions").unwrap().parse().unwrap(),
            reached: Vec::new(),
            steps: Vec::new(),
        };
        for (tag, after) in elements(svg, "<g class=\"state ") {
            let group = &after[..after.find("</g>").unwrap()];
            map.reached.push((
                attr(tag, "data-state").unwrap().to_owned(),
                text_of(group, "text", "n").parse().unwrap(),
                percent(text_of(group, "text", "share")),
            ));
        }
        for (tag, after) in elements(svg, "<g class=\"edge\"") {
            let group = &after[..after.find("</g>").unwrap()];
            map.steps.push((
                attr(tag, "data-from").unwrap().to_owned(),
                attr(tag, "data-to").unwrap().to_owned(),
                text_of(group, "tspan", "n").parse().unwrap(),
                percent(text_of(group, "tspan", "rate")),
            ));
        }
        let nodes: Vec<&str> = elements(svg, "<g class=\"node ")
            .into_iter()
            .map(|(tag, _)| attr(tag, "data-state").unwrap())
            .collect();
        let funnel: Vec<&str> = map.reached.iter().map(|(s, _, _)| s.as_str()).collect();
        assert_eq!(nodes, funnel, "flow nodes vs funnel rows of {}", map.id);
        maps.push(map);
    }
    maps
}
