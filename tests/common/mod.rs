//! What the root tests and benches share: the vendor's sample event.
// Each test crate (and each bench that includes this file) uses only part of it.
#![allow(dead_code)]

use serde_json::{json, Value};

/// The sample event of the vendor's documentation: a web chat, offered.
pub(crate) const SAMPLE: &str = r#"{"actionId":"6f1c2d7e-5b7a-4c52-9a3e-0d4f1b2a3c4d","actionState":"offered",
 "actionMediaType":"webchat","actionMapId":"0b9e8f7a-6d5c-4b3a-8f2e-1d0c9b8a7f6e",
 "actionMapVersion":3,"customerId":"9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
 "customerIdType":"cookie","sessionId":"1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"}"#;

/// The sample as JSON, in another media type and state; its keys keep their order.
pub(crate) fn sample_with(media_type: &str, state: &str) -> Value {
    let mut event: Value = serde_json::from_str(SAMPLE).unwrap();
    event["actionMediaType"] = json!(media_type);
    event["actionState"] = json!(state);
    event
}
