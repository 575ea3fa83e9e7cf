//! The media type of `examples/custom_media_type.rs`, declared in user code, gets the same
//! documents as the built-in ones through the library function, and the events the
//! example's own typestate API produces pass its generated schema.

// The example itself, not a copy: the documents are those of the declaration users read.
#[allow(dead_code)]
#[path = "../examples/custom_media_type.rs"]
mod custom_media_type;

use custom_media_type::WebMessagingOffer;
use serde_json::{json, Value};
use webaction_events::docs::{self, Document};
use webaction_events::{ActionIds, NewAction, Registry, Uuid};

fn registry() -> Registry {
    Registry::builtin().with::<WebMessagingOffer>()
}

fn contents<'a>(documents: &'a [Document], name: &str) -> &'a str {
    &documents
        .iter()
        .find(|d| d.file_name == name)
        .unwrap_or_else(|| panic!("no `{name}`"))
        .contents
}

#[test]
fn the_example_media_type_gets_a_page_a_schema_and_its_place_in_every_shared_document() {
    let out = tempfile::tempdir().unwrap();
    let paths = docs::write_docs(&registry(), out.path()).unwrap().written;
    let written: Vec<String> = paths
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        written,
        [
            "webchat.md",
            "webchat.schema.json",
            "contentoffer.md",
            "contentoffer.schema.json",
            "webMessagingOffer.md",
            "webMessagingOffer.schema.json",
            "catalog.json",
            "webaction-events.d.ts",
            "webaction-collector.js",
            "webaction-collector.d.ts",
            "index.md",
        ]
    );
    let documents = docs::generate(&registry()).unwrap();
    for (path, document) in paths.iter().zip(&documents) {
        assert_eq!(std::fs::read_to_string(path).unwrap(), document.contents);
    }

    // The built-in pages do not change when a media type is added.
    let builtin = docs::generate(&Registry::builtin()).unwrap();
    for name in ["webchat.md", "webchat.schema.json", "contentoffer.md"] {
        assert_eq!(contents(&documents, name), contents(&builtin, name));
    }

    let page = contents(&documents, "webMessagingOffer.md");
    for needle in [
        "# `webMessagingOffer` events",
        "An offer to start a web messaging conversation.",
        "ac('on', 'webMessagingOffer:offered', function (event) {",
        "events.on(WebMessagingOffer::Offered, |e: &WebMessagingOfferEvent|",
        "events.off_topic(\"webMessagingOffer:all\");",
        "| `conversed` (also accepted: `conversationStarted`) |",
        "| `errored` | The messenger failed to load. | — | end (not terminal) | — | `errorMessage` |",
        "| `actionId` | UUIDv4 | always |",
        "| `actionMapVersion` | Integer | always |",
        "| `errorMessage` | String | in `errored` |",
        "| `deploymentId` | UUIDv4 | always | The messenger deployment the offer opens. |",
        "| `conversationId` | UUIDv4 | no | The conversation, once the visitor wrote. |",
        "```mermaid\nstateDiagram-v2\n    [*] --> offered\n    offered --> accepted\n",
        "| `webMessagingOffer:all` | every `webMessagingOffer` event |",
    ] {
        assert!(page.contains(needle), "missing {needle:?} in\n{page}");
    }

    let ts = contents(&documents, "webaction-events.d.ts");
    assert!(ts.contains("  'webMessagingOffer:conversed': WebMessagingOfferConversedEvent;"));
    assert!(ts.contains(
        "export interface WebActionTopics extends WebChatTopics, ContentOfferTopics, WebMessagingOfferTopics {}"
    ));
    // The collector subscribes to the user's media type too.
    assert!(contents(&documents, "webaction-collector.js").contains(
        "    // An offer to start a web messaging conversation.\n    'webMessagingOffer',\n"
    ));
    assert!(contents(&documents, "webaction-collector.d.ts").contains(
        "export type WebActionMediaType =\n  | 'webchat'\n  | 'contentoffer'\n  | 'webMessagingOffer';\n"
    ));
    let catalog: Value = serde_json::from_str(contents(&documents, "catalog.json")).unwrap();
    assert_eq!(catalog["mediaTypes"][2]["mediaType"], "webMessagingOffer");
    assert!(
        contents(&documents, "index.md").contains("[webMessagingOffer.md](webMessagingOffer.md)")
    );
}

/// Events made with the example's typestate API, in every state its happy path reaches,
/// pass the generated schema; the same event with a broken `deploymentId` does not.
#[test]
fn events_of_the_example_pass_its_generated_schema() {
    let schema: Value = serde_json::from_str(contents(
        &docs::generate(&registry()).unwrap(),
        "webMessagingOffer.schema.json",
    ))
    .unwrap();
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap();

    let ids = ActionIds::new(NewAction {
        action_map_id: Uuid::new_v4(),
        action_map_version: 2,
        customer_id: Uuid::new_v4(),
        session_id: Uuid::new_v4(),
    });
    let offer = WebMessagingOffer::offer(ids, Uuid::new_v4());
    let offered = serde_json::to_value(offer.event()).unwrap();
    let mut accepted = offer.accept();
    accepted.set_conversation_id(Uuid::new_v4());
    let accepted_json = serde_json::to_value(accepted.event()).unwrap();
    let conversed = serde_json::to_value(accepted.converse()).unwrap();
    for event in [&offered, &accepted_json, &conversed] {
        let errors: Vec<String> = validator
            .iter_errors(event)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{event}: {errors:?}");
    }
    assert_eq!(conversed["actionState"], "conversed");

    let mut broken = conversed.clone();
    broken["deploymentId"] = json!("not-a-uuid");
    assert!(!validator.is_valid(&broken));
    let mut errored = offered.clone();
    errored["actionState"] = json!("errored");
    assert!(!validator.is_valid(&errored), "errored needs errorMessage");
    errored["errorMessage"] = json!("messenger did not load");
    assert!(validator.is_valid(&errored));
}
