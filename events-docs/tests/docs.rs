//! The generated documentation: the committed copy is current, the schemas agree with the
//! reader on valid and invalid events, the state diagrams show exactly the declared
//! transitions, and a user-declared media type gets the same documents.

use std::collections::BTreeMap;
use std::path::PathBuf;

use events_core::{
    JsonType, MediaTypeDescription, RawEvent, Registry, StateDescription, StateKind,
    DOCUMENTED_FIELDS,
};
use events_docs::{self as docs, DocsError, Document};
use serde_json::{json, Map, Value};

events_core::media_type! {
    /// A web messaging offer: the kind of media type a user declares in their own crate.
    ///
    /// Its lifecycle is not documented by the vendor.
    pub MessagingOffer = "webMessagingOffer" {
        version = 2;
        states {
            /// Shown to the visitor.
            initial Offered = "offered" -> Accepted | Declined | Errored,
            /// Taken: the visitor opened the messenger.
            terminal Accepted = "accepted" (aliases "taken"),
            /// Closed by the visitor.
            terminal Declined = "declined",
            /// Failed.
            end Errored = "errored" (requires error_message, reason),
        }
        fields {
            /// Why it failed.
            reason: Option<String> = "failureReason",
            /// The page it was shown on.
            page_url: String,
            /// How many times it was shown in this session.
            impressions: Option<u32>,
        }
    }
}

fn builtin_and_custom() -> Registry {
    Registry::builtin().with::<MessagingOffer>()
}

fn committed_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/events")
}

fn document<'a>(documents: &'a [Document], name: &str) -> &'a Document {
    documents
        .iter()
        .find(|d| d.file_name == name)
        .unwrap_or_else(|| panic!("no document `{name}`"))
}

// ---------------------------------------------------------------- committed copy

/// `docs/events/` is exactly what the built-in media types generate: no file missing,
/// none extra, every byte the same. Regenerate with `webaction docs --out docs/events`.
#[test]
fn committed_docs_match_a_fresh_generation() {
    let documents = docs::generate(&Registry::builtin()).unwrap();
    let dir = committed_dir();
    let mut committed: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    committed.sort();
    let mut generated: Vec<String> = documents.iter().map(|d| d.file_name.clone()).collect();
    generated.sort();
    assert_eq!(committed, generated, "files in {}", dir.display());
    for document in &documents {
        let on_disk = std::fs::read_to_string(dir.join(&document.file_name)).unwrap();
        assert!(
            on_disk == document.contents,
            "docs/events/{} is stale; regenerate with `webaction docs --out docs/events`",
            document.file_name
        );
    }
}

#[test]
fn generation_is_deterministic_and_writes_what_it_generates() {
    let registry = builtin_and_custom();
    let first = docs::generate(&registry).unwrap();
    assert_eq!(first, docs::generate(&registry).unwrap());

    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("nested/docs");
    let paths = docs::write_docs(&registry, &target).unwrap().written;
    assert_eq!(paths.len(), first.len());
    for (path, document) in paths.iter().zip(&first) {
        assert_eq!(path, &target.join(&document.file_name));
        assert_eq!(std::fs::read_to_string(path).unwrap(), document.contents);
    }
}

// ---------------------------------------------------------------- schemas

/// A value of the field's type, as a sample event carries it.
fn sample_value(json_type: JsonType) -> Value {
    match json_type {
        JsonType::Uuid => json!("4b1c5e0a-2f3d-4e6b-9a8c-7d1e2f3a4b5c"),
        JsonType::String => json!("text"),
        JsonType::Integer => json!(7),
        JsonType::Number => json!(1.5),
        JsonType::Boolean => json!(true),
        JsonType::Array => json!([]),
        JsonType::Object => json!({}),
        JsonType::Any => json!("anything"),
    }
}

/// The smallest valid event of `description` in the state named `state_name` (a wire
/// name or an alias): the required fields, and the fields that state requires.
fn sample_event(description: &MediaTypeDescription, state_name: &str) -> Map<String, Value> {
    let state = description.state(state_name).unwrap();
    let mut event = json!({
        "actionId": "6f1c2d7e-5b7a-4c52-9a3e-0d4f1b2a3c4d",
        "actionState": state_name,
        "actionMediaType": description.wire_name,
        "actionMapId": "0b9e8f7a-6d5c-4b3a-8f2e-1d0c9b8a7f6e",
        "actionMapVersion": 3,
        "customerId": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
        "customerIdType": "cookie",
        "sessionId": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
    });
    let event = event.as_object_mut().unwrap();
    for field in description.fields.iter().filter(|f| f.required) {
        event.insert(field.wire_name.into(), sample_value(field.json_type));
    }
    for name in state.requires {
        let field = description.field(name).unwrap();
        event.insert(field.wire_name.into(), sample_value(field.json_type));
    }
    event.clone()
}

struct Verdicts {
    schema: Result<(), Vec<String>>,
    reader: Result<(), String>,
}

/// What the generated schema and the crate's own reader say about one event.
fn judge(registry: &Registry, media_type: &str, event: &Value) -> Verdicts {
    let entry = registry.get(media_type).unwrap();
    let schema = docs::json_schema(entry.description);
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap();
    let errors: Vec<String> = validator
        .iter_errors(event)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    let bytes = serde_json::to_vec(event).unwrap();
    let reader = match RawEvent::from_slice(&bytes).unwrap() {
        Ok(raw) => entry.from_raw(raw).map(drop).map_err(|e| e.to_string()),
        Err(error) => Err(error.to_string()),
    };
    Verdicts {
        schema: if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        },
        reader,
    }
}

#[test]
fn every_schema_is_a_valid_draft_2020_12_schema() {
    for entry in builtin_and_custom().iter() {
        let schema = docs::json_schema(entry.description);
        assert_eq!(
            schema["$schema"],
            "https://json-schema.org/draft/2020-12/schema"
        );
        if let Err(error) = jsonschema::meta::validate(&schema) {
            panic!("{}: {error}", entry.description.wire_name);
        }
    }
}

/// A sample event of every state, under its wire name and under each alias, passes both
/// the schema and the reader; so does one carrying fields nobody declared.
#[test]
fn sample_events_of_every_state_are_valid() {
    let registry = builtin_and_custom();
    let mut checked = 0;
    for entry in registry.iter() {
        let d = entry.description;
        for state in d.states {
            for name in std::iter::once(&state.wire_name).chain(state.aliases) {
                let mut event = sample_event(d, name);
                for extra in [
                    json!({}),
                    json!({"conversationId": "2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f", "enrichedBy": {"gtm": true}}),
                    json!({"errorCode": null, "errorMessage": "boom"}),
                ] {
                    event.extend(extra.as_object().unwrap().clone());
                    let value = Value::Object(event.clone());
                    let verdicts = judge(&registry, d.wire_name, &value);
                    assert_eq!(verdicts.schema, Ok(()), "schema refused {value}");
                    assert_eq!(verdicts.reader, Ok(()), "reader refused {value}");
                    checked += 1;
                }
            }
        }
    }
    // 9 states + 2 aliases (webchat), 5 (contentoffer), 4 + 1 alias (custom); three
    // variants each.
    assert_eq!(checked, (11 + 5 + 5) * 3);
}

/// Events that are not valid fail both the schema and the reader.
#[test]
fn invalid_events_fail_the_schema_and_the_reader() {
    let registry = builtin_and_custom();
    let webchat = registry.get("webchat").unwrap().description;
    let contentoffer = registry.get("contentoffer").unwrap().description;
    let custom = MessagingOffer::DESCRIPTION;
    type Change = fn(&mut Map<String, Value>);
    let cases: [(&str, &MediaTypeDescription, &str, Change); 15] = [
        ("missing actionId", webchat, "offered", |e| {
            e.remove("actionId");
        }),
        ("bad UUID", webchat, "offered", |e| {
            e.insert("actionId".into(), json!("not-a-uuid"));
        }),
        ("bad UUID in sessionId", webchat, "accepted", |e| {
            e.insert("sessionId".into(), json!("1a2b3c4d-5e6f-4a7b-8c9d"));
        }),
        ("unknown state", webchat, "offered", |e| {
            e.insert("actionState".into(), json!("exploded"));
        }),
        ("another media type's state", contentoffer, "offered", |e| {
            e.insert("actionState".into(), json!("timedout"));
        }),
        ("errored without errorMessage", webchat, "errored", |e| {
            e.remove("errorMessage");
        }),
        (
            "errored with a null errorMessage",
            webchat,
            "errored",
            |e| {
                e.insert("errorMessage".into(), Value::Null);
            },
        ),
        ("wrong actionMediaType", webchat, "offered", |e| {
            e.insert("actionMediaType".into(), json!("contentoffer"));
        }),
        ("actionMapVersion as a string", webchat, "offered", |e| {
            e.insert("actionMapVersion".into(), json!("3"));
        }),
        ("negative actionMapVersion", webchat, "offered", |e| {
            e.insert("actionMapVersion".into(), json!(-1));
        }),
        ("actionMapVersion past u32", contentoffer, "offered", |e| {
            e.insert("actionMapVersion".into(), json!(4_294_967_296_u64));
        }),
        ("declared field with a bad UUID", webchat, "offered", |e| {
            e.insert("conversationId".into(), json!("abc"));
        }),
        ("declared required field missing", custom, "offered", |e| {
            e.remove("pageUrl");
        }),
        (
            "declared field a state requires, missing",
            custom,
            "errored",
            |e| {
                e.remove("failureReason");
            },
        ),
        (
            "declared integer field as a string",
            custom,
            "offered",
            |e| {
                e.insert("impressions".into(), json!("two"));
            },
        ),
    ];
    for (what, description, state, change) in cases {
        let mut event = sample_event(description, state);
        assert_eq!(
            judge(
                &registry,
                description.wire_name,
                &Value::Object(event.clone())
            )
            .schema,
            Ok(()),
            "{what}: the unchanged sample must be valid"
        );
        change(&mut event);
        let event = Value::Object(event);
        let verdicts = judge(&registry, description.wire_name, &event);
        assert!(
            verdicts.schema.is_err(),
            "{what}: the schema accepted {event}"
        );
        assert!(
            verdicts.reader.is_err(),
            "{what}: the reader accepted {event}"
        );
    }
}

#[test]
fn schema_states_include_aliases_and_requirements_are_per_state() {
    let schema = docs::json_schema(events_core::WebChat::DESCRIPTION);
    let states = schema["properties"]["actionState"]["enum"]
        .as_array()
        .unwrap();
    for name in ["offered", "timedout", "timed out", "timedOut", "abandoned"] {
        assert!(states.contains(&json!(name)), "{name}");
    }
    assert_eq!(schema["properties"]["actionId"]["format"], "uuid");
    assert_eq!(schema["properties"]["actionMediaType"]["const"], "webchat");
    assert_eq!(schema["additionalProperties"], true);
    let rules = schema["allOf"].as_array().unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(
        rules[0]["if"]["properties"]["actionState"]["enum"],
        json!(["errored"])
    );
    assert_eq!(rules[0]["then"]["required"], json!(["errorMessage"]));
}

// ---------------------------------------------------------------- state diagrams

/// The edges of the page's Mermaid block, after checking its shape: a `stateDiagram-v2`
/// header, then only `from --> to` lines.
fn mermaid_edges(page: &str) -> Vec<(String, String)> {
    let start = page.find("```mermaid\n").expect("a mermaid block") + "```mermaid\n".len();
    let block = &page[start..start + page[start..].find("```").expect("closed block")];
    let mut lines = block.lines();
    assert_eq!(lines.next(), Some("stateDiagram-v2"));
    lines
        .map(|line| {
            let (from, to) = line
                .trim()
                .split_once(" --> ")
                .unwrap_or_else(|| panic!("not a transition line: {line:?}"));
            for end in [from, to] {
                assert!(
                    end == "[*]" || !end.is_empty() && !end.contains(char::is_whitespace),
                    "not a state id: {end:?}"
                );
            }
            (from.to_owned(), to.to_owned())
        })
        .collect()
}

#[test]
fn state_diagrams_show_every_declared_transition_once_and_nothing_else() {
    for entry in builtin_and_custom().iter() {
        let d = entry.description;
        let page = docs::media_type_page(d);
        let mut edges: BTreeMap<(String, String), usize> = BTreeMap::new();
        for edge in mermaid_edges(&page) {
            *edges.entry(edge).or_default() += 1;
        }
        let mut expected: BTreeMap<(String, String), usize> = BTreeMap::new();
        for (from, to) in d.transitions() {
            *expected
                .entry((from.wire_name.into(), to.wire_name.into()))
                .or_default() += 1;
        }
        for state in d.states {
            if state.initial {
                expected.insert(("[*]".into(), state.wire_name.into()), 1);
            }
            if state.kind.ends_lifecycle() {
                expected.insert((state.wire_name.into(), "[*]".into()), 1);
            }
        }
        assert_eq!(edges, expected, "{}", d.wire_name);
        assert!(expected.values().all(|&n| n == 1));
    }
}

// ---------------------------------------------------------------- pages

/// The rows of the page's event fields table: wire name, data type, required.
fn field_rows(page: &str) -> Vec<(String, String, String)> {
    let section = &page[page.find("## Event fields").unwrap()..];
    let section = &section[..section[1..].find("\n## ").map_or(section.len(), |i| i + 1)];
    section
        .lines()
        .filter(|line| line.starts_with("| `"))
        .map(|line| {
            let cells: Vec<&str> = line.split(" | ").collect();
            (
                cells[0]
                    .trim_start_matches("| ")
                    .trim_matches('`')
                    .to_owned(),
                cells[1].to_owned(),
                cells[2].to_owned(),
            )
        })
        .collect()
}

fn rows(rows: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    rows.iter()
        .map(|(a, b, c)| ((*a).into(), (*b).into(), (*c).into()))
        .collect()
}

#[test]
fn fields_table_lists_the_documented_fields_with_vendor_types_then_the_declared_ones() {
    assert_eq!(DOCUMENTED_FIELDS.len(), 10);
    let documented = rows(&[
        ("actionId", "UUIDv4", "always"),
        ("actionState", "String", "always"),
        ("actionMediaType", "String", "always"),
        ("actionMapId", "UUIDv4", "always"),
        ("actionMapVersion", "Integer", "always"),
        ("customerId", "UUIDv4", "always"),
        ("customerIdType", "String", "always"),
        ("sessionId", "UUIDv4", "always"),
        ("errorCode", "Integer", "no"),
        ("errorMessage", "String", "in `errored`"),
    ]);

    let webchat = field_rows(&docs::media_type_page(events_core::WebChat::DESCRIPTION));
    let mut expected = documented.clone();
    expected.extend(rows(&[("conversationId", "UUIDv4", "no")]));
    assert_eq!(webchat, expected);

    let contentoffer = field_rows(&docs::media_type_page(
        events_core::ContentOffer::DESCRIPTION,
    ));
    assert_eq!(contentoffer, documented);

    let custom = field_rows(&docs::media_type_page(MessagingOffer::DESCRIPTION));
    let mut expected = documented.clone();
    expected.extend(rows(&[
        ("failureReason", "String", "in `errored`"),
        ("pageUrl", "String", "always"),
        ("impressions", "Integer", "no"),
    ]));
    assert_eq!(custom, expected);
}

#[test]
fn pages_show_the_methods_lifecycle_and_topics() {
    let page = docs::media_type_page(events_core::WebChat::DESCRIPTION);
    for needle in [
        "ac('on', 'webchat:offered', function (event) {",
        "ac('once', 'webchat:offered', function (event) {",
        "ac('off', 'webchat:offered');",
        "events.on(WebChat::Offered, |e: &WebChatEvent|",
        "events.once(WebChat::Offered, |e: &WebChatEvent|",
        "events.off(subscription);",
        "events.on_topic(\"webchat:all\", |e: &AnyEvent|",
        "events.off_topic(\"webchat:all\");",
        "| `timedout` (also accepted: `timed out`, `timedOut`) |",
        "| `errored` | A widget error prevented the engagement; `errorMessage` is set. *Documented*; it ends the lifecycle without being terminal. | — | end (not terminal) | — | `errorMessage` |",
        "| `offered` | Visitor activity qualified an action map; the invitation is shown. *Documented.* | yes | — | `accepted`, `rejected`, `ignored`, `timedout`, `errored` | — |",
        "| `rejected` | The visitor declined the invitation, or closed the pre-chat form. *Documented.* | — | terminal | — | — |",
        "| `webchat:all` | every `webchat` event |",
    ] {
        assert!(page.contains(needle), "missing {needle:?}");
    }
    for state in events_core::WebChat::DESCRIPTION.states {
        assert!(page.contains(&format!("| `webchat:{}` |", state.wire_name)));
    }
}

// ---------------------------------------------------------------- user-declared media types

/// A media type declared outside the crate gets a page, a schema, and its place in the
/// catalog, the TypeScript declarations and the index, through the library function.
#[test]
fn a_user_declared_media_type_gets_the_same_documents() {
    let documents = docs::generate(&builtin_and_custom()).unwrap();
    let names: Vec<&str> = documents.iter().map(|d| d.file_name.as_str()).collect();
    assert_eq!(
        names,
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

    let page = &document(&documents, "webMessagingOffer.md").contents;
    assert_eq!(page, &docs::media_type_page(MessagingOffer::DESCRIPTION));
    for needle in [
        "# `webMessagingOffer` events",
        "| Declaration version | 2 |",
        "ac('on', 'webMessagingOffer:offered', function (event) {",
        "events.on(MessagingOffer::Offered, |e: &MessagingOfferEvent|",
        "| `accepted` (also accepted: `taken`) |",
        "| `errored` | Failed. | — | end (not terminal) | — | `errorMessage`, `failureReason` |",
        "    offered --> declined\n",
        "| `webMessagingOffer:all` |",
    ] {
        assert!(page.contains(needle), "missing {needle:?}");
    }

    let schema: Value =
        serde_json::from_str(&document(&documents, "webMessagingOffer.schema.json").contents)
            .unwrap();
    assert_eq!(schema, docs::json_schema(MessagingOffer::DESCRIPTION));
    assert!(schema["required"]
        .as_array()
        .unwrap()
        .contains(&json!("pageUrl")));

    let catalog: Value =
        serde_json::from_str(&document(&documents, "catalog.json").contents).unwrap();
    let custom = &catalog["mediaTypes"][2];
    assert_eq!(custom["mediaType"], "webMessagingOffer");
    assert_eq!(custom["version"], 2);
    assert_eq!(
        custom["transitions"],
        json!([
            {"from": "offered", "to": "accepted"},
            {"from": "offered", "to": "declined"},
            {"from": "offered", "to": "errored"},
        ])
    );
    assert_eq!(custom["fields"].as_array().unwrap().len(), 13);
    assert_eq!(custom["states"][1]["aliases"], json!(["taken"]));
    assert_eq!(custom["states"][3]["kind"], "end");

    let ts = &document(&documents, "webaction-events.d.ts").contents;
    for needle in [
        "export interface MessagingOfferEventFields extends WebActionEventFields {",
        "  actionMediaType: 'webMessagingOffer';",
        "  pageUrl: string;",
        "  impressions?: number | null;",
        "export interface MessagingOfferAcceptedEvent extends MessagingOfferEventFields {\n  actionState: 'accepted' | 'taken';",
        "  'webMessagingOffer:all': MessagingOfferEvent;",
        "export interface WebActionTopics extends WebChatTopics, ContentOfferTopics, MessagingOfferTopics {}",
    ] {
        assert!(ts.contains(needle), "missing {needle:?}");
    }
    let errored = &ts[ts
        .find("export interface MessagingOfferErroredEvent")
        .unwrap()..];
    let errored = &errored[..errored.find("}\n").unwrap()];
    assert!(errored.contains("  errorMessage: string;"));
    assert!(errored.contains("  failureReason: string;"));

    let index = &document(&documents, "index.md").contents;
    assert!(index.contains("[webMessagingOffer.md](webMessagingOffer.md)"));
    assert!(index.contains("[webMessagingOffer.schema.json](webMessagingOffer.schema.json)"));
}

// ---------------------------------------------------------------- errors

static STATES: [StateDescription; 1] = [StateDescription {
    rust_name: "Shown",
    wire_name: "shown",
    aliases: &[],
    docs: "",
    initial: true,
    kind: StateKind::Terminal,
    next: &[],
    requires: &[],
}];

const fn hand_built(rust_name: &'static str, wire_name: &'static str) -> MediaTypeDescription {
    MediaTypeDescription {
        rust_name,
        wire_name,
        docs: "",
        version: 1,
        states: &STATES,
        fields: &[],
    }
}

static SLASHED: MediaTypeDescription = hand_built("Slashed", "a/b");
static INDEX: MediaTypeDescription = hand_built("Index", "index");
static UPPER_WEBCHAT: MediaTypeDescription = hand_built("OtherChat", "WebChat");
static SECOND_WEBCHAT: MediaTypeDescription = hand_built("WebChat", "webchat2");
static RAW_IDENT: MediaTypeDescription = hand_built("r#Type", "type");

#[test]
fn names_that_cannot_be_generated_are_typed_errors() {
    let webchat = events_core::WebChat::DESCRIPTION;
    match docs::generate_for(&[&SLASHED]) {
        Err(DocsError::UnsafeFileName { media_type, .. }) => assert_eq!(media_type, "a/b"),
        other => panic!("{other:?}"),
    }
    match docs::generate_for(&[&INDEX]) {
        Err(DocsError::NameClash { name, .. }) => assert_eq!(name, "index.md"),
        other => panic!("{other:?}"),
    }
    match docs::generate_for(&[webchat, &UPPER_WEBCHAT]) {
        Err(DocsError::NameClash { name, .. }) => assert_eq!(name, "webchat.md"),
        other => panic!("{other:?}"),
    }
    match docs::generate_for(&[webchat, &SECOND_WEBCHAT]) {
        Err(error @ DocsError::NameClash { .. }) => assert_eq!(
            error.to_string(),
            "`WebChatEventFields` would be generated twice, for media type `webchat` and for media type `webchat2`"
        ),
        other => panic!("{other:?}"),
    }
    match docs::generate_for(&[&RAW_IDENT]) {
        Err(DocsError::InvalidIdentifier { name, .. }) => assert_eq!(name, "r#Type"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_media_type_no_longer_registered_leaves_no_page_or_schema_behind() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("docs");
    let first = docs::write_docs(&builtin_and_custom(), &dir).unwrap();
    assert!(first.removed.is_empty());
    let custom: Vec<String> = ["md", "schema.json"]
        .iter()
        .map(|ext| format!("webMessagingOffer.{ext}"))
        .collect();
    for name in &custom {
        assert!(dir.join(name).is_file(), "{name}");
    }
    // Files the generator does not own stay, whatever their names.
    std::fs::write(dir.join("notes.md"), "mine").unwrap();
    std::fs::write(out.path().join("outside.md"), "mine too").unwrap();

    let second = docs::write_docs(&Registry::builtin(), &dir).unwrap();
    let removed: Vec<PathBuf> = custom.iter().map(|name| dir.join(name)).collect();
    assert_eq!(second.removed, removed);
    for name in &custom {
        assert!(!dir.join(name).exists(), "{name} is stale");
    }
    assert!(dir.join("notes.md").is_file());
    for path in &second.written {
        assert!(path.is_file());
    }
    // Nothing left to remove the next time.
    assert!(docs::write_docs(&Registry::builtin(), &dir)
        .unwrap()
        .removed
        .is_empty());

    // A catalog naming files outside the directory, or files it does not make, removes
    // nothing: it is data, not a list of orders.
    let catalog = json!({ "mediaTypes": [
        { "page": "../outside.md", "schema": "notes.md.bak" },
        { "page": "notes.txt", "schema": ".hidden.schema.json" },
    ]});
    std::fs::write(dir.join("notes.txt"), "mine").unwrap();
    std::fs::write(dir.join(".hidden.schema.json"), "{}").unwrap();
    std::fs::write(dir.join(docs::CATALOG_FILE), catalog.to_string()).unwrap();
    assert!(docs::write_docs(&Registry::builtin(), &dir)
        .unwrap()
        .removed
        .is_empty());
    assert!(out.path().join("outside.md").is_file());
    assert!(dir.join("notes.txt").is_file());
    assert!(dir.join(".hidden.schema.json").is_file());
    // A name that differs from a generated one only in case is that file on file systems
    // that ignore case: never removed. (Here the two are distinct files, so removing it
    // would show.)
    std::fs::write(dir.join("WebChat.md"), "old").unwrap();
    std::fs::write(
        dir.join(docs::CATALOG_FILE),
        json!({ "mediaTypes": [{ "page": "WebChat.md", "schema": "WEBCHAT.schema.json" }] })
            .to_string(),
    )
    .unwrap();
    assert!(docs::write_docs(&Registry::builtin(), &dir)
        .unwrap()
        .removed
        .is_empty());
    assert!(dir.join("webchat.md").is_file());
    assert!(dir.join("WebChat.md").is_file());
    // An unreadable catalog removes nothing either.
    std::fs::write(dir.join(docs::CATALOG_FILE), "not json").unwrap();
    assert!(docs::write_docs(&Registry::builtin(), &dir)
        .unwrap()
        .removed
        .is_empty());
}

#[test]
fn writing_into_a_file_is_a_write_error_naming_the_path() {
    let out = tempfile::NamedTempFile::new().unwrap();
    match docs::write_docs(&Registry::builtin(), out.path()) {
        Err(DocsError::Write { path, .. }) => assert_eq!(path, out.path()),
        other => panic!("{other:?}"),
    }
}
