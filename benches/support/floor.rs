//! The ingest floor, shared by `benches/ingest.rs` (timed) and
//! `examples/ingest_stages.rs` (instruction counts), so both measure the same parse.

use webaction_events::Uuid;

/// The hand-written floor: what `#[derive(Deserialize)]` gives for the documented fields
/// (and `#[derive(Serialize)]`, for the encoding's floor).
#[derive(serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub(crate) struct Floor {
    action_id: Uuid,
    action_state: String,
    action_media_type: String,
    action_map_id: Uuid,
    action_map_version: u32,
    customer_id: Uuid,
    customer_id_type: String,
    session_id: Uuid,
    error_code: Option<i64>,
    error_message: Option<String>,
}
