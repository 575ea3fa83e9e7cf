//! `Event::append_json`, which `media_type!` writes without serde for the documented
//! fields and the field names, writes the bytes the event's `Serialize` writes through
//! `serde_json`: for the built-in media types and for one whose wire names need escapes.

use proptest::prelude::*;
use serde_json::{Map, Value};
use webaction_events::testing::lifecycle;
use webaction_events::{ContentOffer, CustomerIdType, Event, WebChat};

webaction_events::media_type! {
    /// Wire names that JSON must escape.
    pub Quoted = "quo\"ted\\type" {
        states {
            /// Shown.
            initial Shown = "sho\"wn" -> Gone,
            /// Gone.
            terminal Gone = "go\\ne",
        }
        fields {
            /// A name with a control character and a quote.
            label: Option<String> = "la\u{1}b\"el",
            /// A required one.
            count: u32 = "co\tunt",
        }
    }
}

/// Strings that need every kind of escape, and some that need none.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 ]{0,12}",
        prop::collection::vec(
            prop::sample::select(vec![
                'a', '"', '\\', '\n', '\t', '\u{1}', '\u{7f}', 'é', '😀'
            ]),
            0..8
        )
        .prop_map(String::from_iter),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        text().prop_map(Value::from),
        prop::collection::vec(text(), 0..3).prop_map(Value::from),
    ]
}

/// What an event may carry beyond its lifecycle: an error, another customer id type,
/// fields of its own.
#[derive(Debug, Clone)]
struct Extras {
    error_code: Option<i64>,
    error_message: Option<String>,
    customer_id_type: Option<String>,
    extra: Vec<(String, Value)>,
}

fn extras() -> impl Strategy<Value = Extras> {
    (
        any::<Option<i64>>(),
        prop::option::of(text()),
        prop::option::of(text()),
        prop::collection::vec((text(), value()), 0..4),
    )
        .prop_map(
            |(error_code, error_message, customer_id_type, extra)| Extras {
                error_code,
                error_message,
                customer_id_type,
                extra,
            },
        )
}

/// Sets what `extras` holds on any event, through the fields every event has.
fn dress<E: Event>(event: &mut E, extras: &Extras, set: impl FnOnce(&mut E, &Extras)) {
    let extra: &mut Map<String, Value> = event.extra_mut();
    for (key, value) in &extras.extra {
        extra.insert(key.clone(), value.clone());
    }
    set(event, extras);
}

fn assert_same<E: Event>(events: &[E]) -> Result<(), TestCaseError> {
    for event in events {
        let mut appended = Vec::new();
        event.append_json(&mut appended).unwrap();
        let serialized = serde_json::to_vec(event).unwrap();
        prop_assert_eq!(
            String::from_utf8(appended).unwrap(),
            String::from_utf8(serialized).unwrap()
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn webchat_events_append_what_serde_writes(
        mut events in lifecycle::<WebChat>(),
        extras in extras(),
    ) {
        for event in &mut events {
            dress(event, &extras, |event, extras| {
                event.error_code = extras.error_code;
                event.error_message = extras.error_message.clone();
                if let Some(other) = &extras.customer_id_type {
                    event.customer_id_type = CustomerIdType::Other(other.clone());
                }
            });
        }
        assert_same(&events)?;
    }

    #[test]
    fn content_offer_events_append_what_serde_writes(
        mut events in lifecycle::<ContentOffer>(),
        extras in extras(),
    ) {
        for event in &mut events {
            dress(event, &extras, |event, extras| {
                event.error_code = extras.error_code;
                event.error_message = extras.error_message.clone();
            });
        }
        assert_same(&events)?;
    }

    #[test]
    fn escaped_wire_names_append_what_serde_writes(
        mut events in lifecycle::<Quoted>(),
        extras in extras(),
        label in prop::option::of(text()),
        count in any::<u32>(),
    ) {
        for event in &mut events {
            dress(event, &extras, |event, extras| {
                event.error_message = extras.error_message.clone();
                event.label = label.clone();
                event.count = count;
            });
        }
        assert_same(&events)?;
    }
}
