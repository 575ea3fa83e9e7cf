//! `webaction-collector.js` and its `webaction-collector.d.ts`: the browser script that
//! subscribes to every registered media type with `ac('on', '<mediaType>:all', ...)` and
//! sends the events to `webaction serve`.
//!
//! The script is hand-written JavaScript (`collector.js` beside this file, type-checked
//! by `tsc --checkJs` in CI) with the registered media types spliced in, so that a media
//! type declared in a user's crate is collected as soon as it is registered.

use std::fmt::Write;

use super::text::{js_string, one_line};
use events_core::MediaTypeDescription;

const SCRIPT_TEMPLATE: &str = include_str!("collector.js");
const DECLARATIONS_TEMPLATE: &str = include_str!("collector.d.ts");
/// Where each template takes the media types: a line of its own.
const MEDIA_TYPES_SLOT: &str = "/*@MEDIA_TYPES@*/\n";

/// The browser script: per media type, in registration order, its wire name in the list
/// the script subscribes to, under the first paragraph of its doc comment.
pub fn collector_script(descriptions: &[&MediaTypeDescription]) -> String {
    let mut list = String::new();
    for d in descriptions {
        let first_paragraph = d.docs.trim().split("\n\n").next().unwrap_or_default();
        let docs = one_line(first_paragraph);
        if !docs.is_empty() {
            let _ = writeln!(list, "    // {}", docs.replace("*/", "*\\/"));
        }
        let _ = writeln!(list, "    {},", js_string(d.wire_name));
    }
    splice(SCRIPT_TEMPLATE, &list)
}

/// The declarations of the script's API; `WebActionMediaType` is the union of the
/// registered wire names (`never` with none).
pub fn collector_declarations(descriptions: &[&MediaTypeDescription]) -> String {
    let union = if descriptions.is_empty() {
        "  never;\n".to_owned()
    } else {
        let names: Vec<String> = descriptions
            .iter()
            .map(|d| format!("  | {}", js_string(d.wire_name)))
            .collect();
        format!("{};\n", names.join("\n"))
    };
    splice(DECLARATIONS_TEMPLATE, &union)
}

fn splice(template: &str, media_types: &str) -> String {
    debug_assert_eq!(template.matches(MEDIA_TYPES_SLOT).count(), 1);
    template.replacen(MEDIA_TYPES_SLOT, media_types, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_template_has_one_slot() {
        for template in [SCRIPT_TEMPLATE, DECLARATIONS_TEMPLATE] {
            assert_eq!(template.matches(MEDIA_TYPES_SLOT).count(), 1);
        }
    }

    #[test]
    fn no_media_type_gives_an_empty_list_and_never() {
        assert!(collector_script(&[]).contains("Object.freeze([\n  ]);"));
        assert!(
            collector_declarations(&[]).contains("export type WebActionMediaType =\n  never;\n")
        );
    }
}
