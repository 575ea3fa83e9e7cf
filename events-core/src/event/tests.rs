//! The fast parse against the tolerant one: whenever the fast parse reads a line, the
//! tolerant parse must read the same event from it.

use proptest::prelude::*;

use super::*;

/// What the tolerant parse reads from `line`, as the fast parse should if it reads it.
fn tolerant(line: &[u8]) -> Option<RawEvent<'_>> {
    RawEvent::from_slice_tolerant(line).ok()?.ok()
}

/// Checks the invariant for one line; `true` when the fast parse took it.
fn check(line: &[u8]) -> bool {
    match fast_parse(line) {
        Some(fast) => {
            assert_eq!(
                tolerant(line).as_ref(),
                Some(&fast),
                "fast and tolerant parses disagree on {:?}",
                String::from_utf8_lossy(line)
            );
            true
        }
        None => false,
    }
}

const ACTION_ID: &str = "0f252671-a39f-4b54-a756-3d706a7c391f";

/// The fields of a valid event, as raw JSON key text and value text.
fn base_fields() -> Vec<(Vec<u8>, Vec<u8>)> {
    [
        ("actionId", format!("\"{ACTION_ID}\"")),
        ("actionState", "\"offered\"".to_owned()),
        ("actionMediaType", "\"webchat\"".to_owned()),
        (
            "actionMapId",
            "\"9afcd44d-14cf-4bfe-b476-cf8a4baa5dc0\"".to_owned(),
        ),
        ("actionMapVersion", "3".to_owned()),
        (
            "customerId",
            "\"05a2e189-41c3-436b-9186-6d4d0cde66a9\"".to_owned(),
        ),
        ("customerIdType", "\"cookie\"".to_owned()),
        (
            "sessionId",
            "\"1eb967d7-9298-43bb-a966-3e9ea0ec2561\"".to_owned(),
        ),
        ("errorCode", "42".to_owned()),
        ("errorMessage", "\"chat server unavailable\"".to_owned()),
    ]
    .into_iter()
    .map(|(key, value)| (key.as_bytes().to_vec(), value.into_bytes()))
    .collect()
}

/// Joins fields into an object, with `gaps[i]` as whitespace (or anything else) between
/// tokens.
fn assemble(fields: &[(Vec<u8>, Vec<u8>)], gaps: &[Vec<u8>]) -> Vec<u8> {
    let mut gaps = gaps.iter().cycle();
    let mut gap = move || gaps.next().cloned().unwrap_or_default();
    let mut line = gap();
    line.push(b'{');
    for (i, (key, value)) in fields.iter().enumerate() {
        if i > 0 {
            line.push(b',');
        }
        line.extend(gap());
        line.push(b'"');
        line.extend(key);
        line.push(b'"');
        line.extend(gap());
        line.push(b':');
        line.extend(gap());
        line.extend(value);
        line.extend(gap());
    }
    line.push(b'}');
    line.extend(gap());
    line
}

/// A piece of string content, raw as it stands between the quotes: plain text, escapes of
/// every kind, non-ASCII text, raw control characters and bytes that are not UTF-8.
fn string_piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => "[a-zA-Z0-9 _.-]{0,8}".prop_map(String::into_bytes),
        1 => Just(b"\\\"".to_vec()),
        1 => Just(b"\\\\".to_vec()),
        1 => Just(b"\\/".to_vec()),
        1 => Just(b"\\n".to_vec()),
        1 => Just(b"\\u0061".to_vec()),
        1 => Just(b"\\u0001".to_vec()),
        1 => Just(b"\\u00e9".to_vec()),
        1 => Just(b"\\ud83d\\ude00".to_vec()),
        1 => Just(b"\\ud800".to_vec()),
        1 => Just(b"\\udc00".to_vec()),
        1 => Just(b"\\ud800\\u0041".to_vec()),
        1 => Just(b"\\ud800\\n".to_vec()),
        1 => Just(b"\\x".to_vec()),
        1 => Just("é😀".as_bytes().to_vec()),
        1 => (0u8..0x20).prop_map(|b| vec![b]),
        1 => Just(vec![0x7f]),
        1 => Just(vec![0xff]),
        1 => Just(vec![0xc3]),
        1 => Just(vec![0xed, 0xa0, 0x80]),
    ]
}

fn string_content() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(string_piece(), 0..4).prop_map(|pieces| pieces.concat())
}

/// A JSON value of any type, some of them not valid JSON at all.
fn any_value() -> impl Strategy<Value = Vec<u8>> {
    let leaf = prop_oneof![
        string_content().prop_map(|s| [b"\"".as_slice(), &s, b"\""].concat()),
        any::<i64>().prop_map(|n| n.to_string().into_bytes()),
        any::<u64>().prop_map(|n| n.to_string().into_bytes()),
        any::<f64>().prop_map(|n| format!("{n:?}").into_bytes()),
        prop::sample::select(vec![
            "null",
            "true",
            "false",
            "0",
            "-0",
            "01",
            "1e3",
            "1.0",
            "-1",
            "4294967295",
            "4294967296",
            "9223372036854775807",
            "9223372036854775808",
            "18446744073709551616",
            "1E400",
            "nul",
            "- 5",
            "-",
            "-01",
            "1 2",
            "nulll",
            "truee",
            "\"unterminated",
            "[1,]",
            "{}",
            "[]",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
    ];
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(|items| {
                [b"[".as_slice(), &items.join(b",".as_slice()), b"]"].concat()
            }),
            prop::collection::vec((string_content(), inner), 0..3).prop_map(|entries| {
                let entries: Vec<Vec<u8>> = entries
                    .into_iter()
                    .map(|(key, value)| [b"\"".as_slice(), &key, b"\":", &value].concat())
                    .collect();
                [b"{".as_slice(), &entries.join(b",".as_slice()), b"}"].concat()
            }),
        ]
    })
}

/// A UUID in one of the forms `Uuid::parse_str` knows (only the hyphenated one is an
/// event's), upper or lower case, possibly broken or escaped.
fn uuid_value() -> impl Strategy<Value = Vec<u8>> {
    (any::<u128>(), 0..9usize, any::<bool>()).prop_map(|(bits, form, upper)| {
        let uuid = Uuid::from_u128(bits);
        let mut text = match form {
            0 => uuid.simple().to_string(),
            1 => uuid.braced().to_string(),
            2 => uuid.urn().to_string(),
            3 => format!("{}g", &uuid.hyphenated().to_string()[1..]),
            4 => uuid.hyphenated().to_string()[1..].to_owned(),
            5 => format!("\\u00{:02x}{}", b'a', &uuid.hyphenated().to_string()[1..]),
            _ => uuid.hyphenated().to_string(),
        };
        if upper {
            text = text.to_uppercase().replace("\\U00", "\\u00");
        }
        format!("\"{text}\"").into_bytes()
    })
}

/// A key's raw text: a documented name (some escaped), or any other key.
fn key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "actionId", "actionState", "actionMediaType", "actionMapId", "actionMapVersion",
            "customerId", "customerIdType", "sessionId", "errorCode", "errorMessage",
            "action\\u0049d", "actionid", "conversationId", "",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        1 => string_content(),
    ]
}

/// One change to a valid event.
#[derive(Debug, Clone)]
enum Mutation {
    /// Replace the value of field `index` (modulo the field count).
    Value(usize, Vec<u8>),
    /// Replace field `index`'s value with a UUID in some form.
    Uuid(usize, Vec<u8>),
    /// Replace field `index`'s key.
    Key(usize, Vec<u8>),
    /// Insert a field before `index`.
    Insert(usize, Vec<u8>, Vec<u8>),
    /// Give field `index` a second time, at the end.
    Duplicate(usize),
    /// Drop field `index`.
    Remove(usize),
    /// Give a string field's value an escape or odd content.
    StringValue(usize, Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any_value()).prop_map(|(i, v)| Mutation::Value(i, v)),
        (any::<usize>(), uuid_value()).prop_map(|(i, v)| Mutation::Uuid(i, v)),
        (any::<usize>(), key()).prop_map(|(i, k)| Mutation::Key(i, k)),
        (any::<usize>(), key(), any_value()).prop_map(|(i, k, v)| Mutation::Insert(i, k, v)),
        any::<usize>().prop_map(Mutation::Duplicate),
        any::<usize>().prop_map(Mutation::Remove),
        (any::<usize>(), string_content()).prop_map(|(i, s)| Mutation::StringValue(i, s)),
    ]
}

fn apply(fields: &mut Vec<(Vec<u8>, Vec<u8>)>, mutation: Mutation) {
    if fields.is_empty() {
        return;
    }
    let len = fields.len();
    match mutation {
        Mutation::Value(i, value) | Mutation::Uuid(i, value) => fields[i % len].1 = value,
        Mutation::Key(i, key) => fields[i % len].0 = key,
        Mutation::Insert(i, key, value) => fields.insert(i % (len + 1), (key, value)),
        Mutation::Duplicate(i) => fields.push(fields[i % len].clone()),
        Mutation::Remove(i) => {
            fields.remove(i % len);
        }
        Mutation::StringValue(i, content) => {
            fields[i % len].1 = [b"\"".as_slice(), &content, b"\""].concat()
        }
    }
}

/// Between tokens: nothing, JSON whitespace, or (rarely) something that is not.
fn gap() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => Just(Vec::new()),
        2 => prop::collection::vec(prop::sample::select(vec![b' ', b'\t', b'\n', b'\r']), 1..3),
        1 => prop::sample::select(vec![b"\x0c".to_vec(), b"\xc2\xa0".to_vec(), b",".to_vec()]),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn fast_parse_agrees_with_tolerant_parse(
        mutations in prop::collection::vec(mutation(), 0..4),
        gaps in prop::collection::vec(gap(), 1..6),
    ) {
        let mut fields = base_fields();
        for mutation in mutations {
            apply(&mut fields, mutation);
        }
        check(&assemble(&fields, &gaps));
    }

    #[test]
    fn fast_parse_takes_valid_events_with_unknown_fields(
        extra in prop::collection::vec(("[a-zA-Z]{1,12}", any_value()), 0..3),
        gaps in prop::collection::vec(
            prop::collection::vec(prop::sample::select(vec![b' ', b'\t', b'\n', b'\r']), 0..2),
            1..6,
        ),
    ) {
        let mut fields = base_fields();
        let mut seen = std::collections::HashSet::new();
        for (key, value) in extra {
            let valid_value = serde_json::from_slice::<Value>(&value).is_ok();
            if Key::from_wire(&key).is_none() && seen.insert(key.clone()) && valid_value {
                fields.push((key.into_bytes(), value));
            }
        }
        let line = assemble(&fields, &gaps);
        // A valid value in an unknown field is kept as JSON, whatever its type and
        // escapes: such a line never needs the tolerant parse.
        prop_assert!(check(&line), "{:?}", String::from_utf8_lossy(&line));
    }
}

#[test]
fn fast_parse_takes_what_it_can_vouch_for() {
    let base = assemble(&base_fields(), &[]);
    let cases: &[&[u8]] = &[
        &base,
        br#"{"actionId":"0F252671-A39F-4B54-A756-3D706A7C391F","actionState":"offered","actionMediaType":"webchat","actionMapId":"9afcd44d-14cf-4bfe-b476-cf8a4baa5dc0","actionMapVersion":4294967295,"customerId":"05a2e189-41c3-436b-9186-6d4d0cde66a9","customerIdType":"device","sessionId":"1eb967d7-9298-43bb-a966-3e9ea0ec2561","errorCode":null,"errorMessage":null}"#,
        r#"{"actionId":"0f252671-a39f-4b54-a756-3d706a7c391f","actionState":"offered","actionMediaType":"webchat","actionMapId":"9afcd44d-14cf-4bfe-b476-cf8a4baa5dc0","actionMapVersion":0,"customerId":"05a2e189-41c3-436b-9186-6d4d0cde66a9","customerIdType":"cookie","sessionId":"1eb967d7-9298-43bb-a966-3e9ea0ec2561","errorCode":-9223372036854775,"errorMessage":"café"}"#.as_bytes(),
        concat!(
            " \t{ \"actionId\" : \"0f252671-a39f-4b54-a756-3d706a7c391f\" ,\r\n",
            "\"actionState\":\"offered\",\"actionMediaType\":\"webchat\",",
            "\"actionMapId\":\"9afcd44d-14cf-4bfe-b476-cf8a4baa5dc0\",\"actionMapVersion\":7,",
            "\"customerId\":\"05a2e189-41c3-436b-9186-6d4d0cde66a9\",\"customerIdType\":\"cookie\",",
            "\"sessionId\":\"1eb967d7-9298-43bb-a966-3e9ea0ec2561\",",
            "\"conversationId\":\"a\\\"b\\u00e9\\n\\ud83d\\ude00\",\"\":1.5e300,",
            "\"nested\":{\"a\":[1,2.5,null,{\"b\":\"\u{e9}\"}],\"a\":{}},",
            "\"d\u{e9}j\u{e0}\":true,\"\u{1f600}\":-9223372036854775808,\"\x7f\":\"\"} \n",
        )
        .as_bytes(),
    ];
    for case in cases {
        assert!(check(case), "{:?}", String::from_utf8_lossy(case));
    }
}

/// Valid events the fast parse does not read: escapes anywhere but in the values of
/// fields it does not know, huge but valid error codes. `from_slice` still reads them.
#[test]
fn fast_parse_leaves_unusual_valid_events_to_the_tolerant_parse() {
    let with = |key: &str, value: &str| {
        let mut fields = base_fields();
        match fields.iter_mut().find(|(k, _)| k == key.as_bytes()) {
            Some(field) => field.1 = value.as_bytes().to_vec(),
            None => fields.push((key.as_bytes().to_vec(), value.as_bytes().to_vec())),
        }
        assemble(&fields, &[])
    };
    let mut escaped_key = base_fields();
    escaped_key[0].0 = b"action\\u0049d".to_vec();
    let cases = [
        assemble(&escaped_key, &[]),
        with("actionId", "\"\\u0030f252671-a39f-4b54-a756-3d706a7c391f\""),
        with("actionState", "\"off\\u0065red\""),
        with("actionMediaType", "\"web\\/chat\""),
        with("customerIdType", "\"\\\"cookie\\\"\""),
        with("errorMessage", "\"line\\nbreak\""),
        with("errorCode", "9223372036854775807"),
        with("con\\u0076ersationId", "\"c-1\""),
        with("a\\u0001b", "1"),
    ];
    for case in &cases {
        assert!(
            fast_parse(case).is_none(),
            "{:?}",
            String::from_utf8_lossy(case)
        );
        assert!(
            RawEvent::from_slice(case)
                .ok()
                .and_then(Result::ok)
                .is_some(),
            "{:?}",
            String::from_utf8_lossy(case)
        );
    }
}

#[test]
fn fast_parse_leaves_doubtful_lines_to_the_tolerant_parse() {
    let with = |key: &[u8], value: &str| {
        let mut fields = base_fields();
        match fields.iter_mut().find(|(k, _)| k == key) {
            Some(field) => field.1 = value.as_bytes().to_vec(),
            None => fields.push((key.to_vec(), value.as_bytes().to_vec())),
        }
        assemble(&fields, &[])
    };
    let cases = [
        with(b"actionId", "\"0f252671a39f4b54a7563d706a7c391f\""),
        with(b"actionId", "\"{0f252671-a39f-4b54-a756-3d706a7c391f}\""),
        with(
            b"actionId",
            "\"urn:uuid:0f252671-a39f-4b54-a756-3d706a7c391f\"",
        ),
        with(b"actionId", "\"0f252671-a39f-4b54-a756-3d706a7c391g\""),
        with(b"actionId", "17"),
        with(b"actionState", "null"),
        with(b"actionState", "[\"offered\"]"),
        with(b"actionMapVersion", "4294967296"),
        with(b"actionMapVersion", "-1"),
        with(b"actionMapVersion", "3.0"),
        with(b"actionMapVersion", "03"),
        with(b"actionMapVersion", "3e0"),
        with(b"actionMapVersion", "\"3\""),
        with(b"errorCode", "9223372036854775808"),
        with(b"errorCode", "1.5"),
        with(b"errorCode", "-0"),
        with(b"errorCode", "- 5"),
        with(b"errorCode", "--5"),
        with(b"errorCode", "+5"),
        with(b"errorCode", "nul"),
        with(b"errorCode", "nullx"),
        with(b"errorMessage", "7"),
        with(b"customerIdType", "{}"),
        assemble(&[base_fields(), base_fields()[..1].to_vec()].concat(), &[]),
        assemble(&base_fields()[1..], &[]),
        [&with(b"x", "1")[..], b"x"].concat(),
        with(b"x", "\"\x01\""),
        with(b"x", "01"),
        assemble(
            &[base_fields(), vec![(b"x".to_vec(), b"1".to_vec()); 2]].concat(),
            &[],
        ),
        with(b"\x01", "1"),
        with(b"\\u0001", "1"),
        with(b"\\n", "1"),
        with(b"\\ud800", "1"),
        with(b"\\udc00", "1"),
        with(b"a\xff", "1"),
        with(b"\xc3", "1"),
        with(b"\xed\xa0\x80", "1"),
    ];
    for case in &cases {
        assert!(
            fast_parse(case).is_none(),
            "{:?}",
            String::from_utf8_lossy(case)
        );
        // `from_slice` then answers with the tolerant parse, error or not (an escaped
        // control character in a key is valid JSON the fast parse cannot vouch for).
        assert_eq!(
            RawEvent::from_slice(case).ok().and_then(Result::ok),
            tolerant(case)
        );
    }
}

/// serde_json's recursion limit counts from the event object in the tolerant parse and
/// from the value in the fast parse's reading of unknown fields: the fast parse leaves
/// deep values to the tolerant one, which decides.
#[test]
fn nesting_near_the_recursion_limit_is_decided_by_the_tolerant_parse() {
    let line = |depth: usize| {
        let mut fields = base_fields();
        let value = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        fields.push((b"deep".to_vec(), value.into_bytes()));
        assemble(&fields, &[])
    };
    for depth in [1, 50, 100, 101, 120, 125, 126, 127, 128, 129, 200] {
        let line = line(depth);
        assert_eq!(check(&line), depth <= 100, "depth {depth}");
        assert_eq!(
            RawEvent::from_slice(&line).ok().and_then(Result::ok),
            tolerant(&line),
            "depth {depth}"
        );
    }
    assert!(tolerant(&line(101)).is_some());
    assert!(tolerant(&line(200)).is_none());
}

/// The mutated lines above must reach every side, or the agreement test proves little:
/// over a fixed sample, enough of them must be taken by the fast parse, left to the
/// tolerant parse while valid, and be errors.
#[test]
fn mutated_events_reach_both_parses() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let mut runner = TestRunner::deterministic();
    let strategy = (
        prop::collection::vec(mutation(), 0..4),
        prop::collection::vec(gap(), 1..6),
    );
    let (mut fast, mut tolerant_only, mut errors) = (0, 0, 0);
    for _ in 0..2000 {
        let (mutations, gaps) = strategy.new_tree(&mut runner).unwrap().current();
        let mut fields = base_fields();
        for mutation in mutations {
            apply(&mut fields, mutation);
        }
        let line = assemble(&fields, &gaps);
        match (check(&line), tolerant(&line).is_some()) {
            (true, _) => fast += 1,
            (false, true) => tolerant_only += 1,
            (false, false) => errors += 1,
        }
    }
    assert!(
        fast > 200 && tolerant_only > 10 && errors > 200,
        "fast {fast}, tolerant only {tolerant_only}, errors {errors}"
    );
}

/// Unknown fields with numbers an `f64` would change, at every depth, compact.
const UNUSUAL_NUMBERS: &str = concat!(
    r#"{"beyondU64":18446744073709551616,"digits30":123456789012345678901234567890,"#,
    r#""negativeZero":-0,"exponent":1e2,"exponentUpper":1E+2,"tenth":0.10,"#,
    r#""tiny":-1.5e-300,"nested":[1e2,-0,{"deep":[0.10,-1.5e-300]},"#,
    r#"{"n":18446744073709551616}],"object":{"a":{"b":1E+2},"c":-0}}"#
);

#[test]
fn both_parses_keep_the_number_text_of_unknown_fields() {
    let unknown = UNUSUAL_NUMBERS.strip_prefix('{').unwrap();
    let plain = assemble(&base_fields(), &[]);
    let plain = format!(
        "{},{unknown}",
        std::str::from_utf8(&plain[..plain.len() - 1]).unwrap()
    );
    // An escape in a documented string makes the fast parse give the line up.
    let escaped = plain.replacen("chat server", "chat\\nserver", 1);
    // serde_json's `arbitrary_precision` keeps every digit, sign and trailing zero, but
    // writes an exponent as `e` with its sign.
    let kept = UNUSUAL_NUMBERS
        .replace("1e2", "1e+2")
        .replace("1E+2", "1e+2");
    assert!(fast_parse(plain.as_bytes()).is_some(), "{plain}");
    assert!(fast_parse(escaped.as_bytes()).is_none(), "{escaped}");
    for line in [&plain, &escaped] {
        let rest = RawEvent::from_slice_tolerant(line.as_bytes())
            .unwrap()
            .unwrap()
            .rest;
        assert_eq!(serde_json::to_string(&rest).unwrap(), kept);
        let rest = RawEvent::from_slice(line.as_bytes()).unwrap().unwrap().rest;
        assert_eq!(serde_json::to_string(&rest).unwrap(), kept);
    }
}

#[test]
fn one_table_of_documented_keys_in_the_spec_order() {
    let listed: Vec<&str> = Key::ALL.iter().map(|&(_, name)| name).collect();
    let documented: Vec<&str> = events_spec::DOCUMENTED_FIELDS
        .iter()
        .map(|field| field.wire_name)
        .collect();
    assert_eq!(listed, documented);
    for (at, &(key, name)) in Key::ALL.iter().enumerate() {
        assert_eq!(key as usize, at, "`{name}` is out of place");
        assert_eq!(key.wire_name(), name);
        assert_eq!(Key::from_wire(name).map(|k| k as usize), Some(at));
        assert_eq!(
            Key::from_wire_bytes(name.as_bytes()).map(|k| k as usize),
            Some(at)
        );
    }
    for other in [
        "",
        "actionid",
        "actionIdx",
        "errorCodes",
        "sessionID",
        "conversationId",
    ] {
        assert!(Key::from_wire(other).is_none(), "{other}");
        assert!(Key::from_wire_bytes(other.as_bytes()).is_none(), "{other}");
    }
}
