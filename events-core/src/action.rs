//! What a producer of events knows about one action before its first event: the ids that
//! every event of the action carries. The generated typestate API (`WebChat::offer(ids)`)
//! starts from them.

use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::description::{FieldDescription, MediaTypeDescription, StateDescription};
use crate::event::CustomerIdType;

/// The ids every event of one action carries, unchanged from its first event to its last.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ActionIds {
    /// `actionId`: this action.
    pub action_id: Uuid,
    /// `actionMapId`: the action map that qualified the action.
    pub action_map_id: Uuid,
    /// `actionMapVersion`: that action map's version.
    pub action_map_version: u32,
    /// `customerId`: the visitor.
    pub customer_id: Uuid,
    /// `customerIdType`: the kind of customer id.
    pub customer_id_type: CustomerIdType,
    /// `sessionId`: the visitor's web session.
    pub session_id: Uuid,
}

/// What a new action's ids are made from, by name (see [`ActionIds::new`]): four ids of
/// the same type by position would let two be swapped unseen.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NewAction {
    /// `actionMapId`: the action map that qualified the action.
    pub action_map_id: Uuid,
    /// `actionMapVersion`: that action map's version.
    pub action_map_version: u32,
    /// `customerId`: the visitor (a cookie id; set [`ActionIds::customer_id_type`]
    /// afterwards for another kind).
    pub customer_id: Uuid,
    /// `sessionId`: the visitor's web session.
    pub session_id: Uuid,
}

impl ActionIds {
    /// The ids of a new action: a fresh random `actionId`, a cookie-identified visitor.
    ///
    /// ```
    /// use events_core::{ActionIds, CustomerIdType, NewAction, Uuid};
    /// let ids = ActionIds::new(NewAction {
    ///     action_map_id: Uuid::new_v4(),
    ///     action_map_version: 3,
    ///     customer_id: Uuid::new_v4(),
    ///     session_id: Uuid::new_v4(),
    /// });
    /// assert_eq!(ids.customer_id_type, CustomerIdType::Cookie);
    /// ```
    pub fn new(action: NewAction) -> Self {
        let NewAction {
            action_map_id,
            action_map_version,
            customer_id,
            session_id,
        } = action;
        ActionIds {
            action_id: Uuid::new_v4(),
            action_map_id,
            action_map_version,
            customer_id,
            customer_id_type: CustomerIdType::Cookie,
            session_id,
        }
    }
}

impl ActionIds {
    /// The JSON object of this action's event of `media_type` in `state`: the documented
    /// ids, then every field the media type or the state requires, valued by `value_of`
    /// (`errorMessage` comes with an `errorCode` of 500 and a message). What `webaction
    /// simulate` writes and the `testing` strategies decode.
    pub fn event_json(
        &self,
        media_type: &'static MediaTypeDescription,
        state: &StateDescription,
        mut value_of: impl FnMut(&'static FieldDescription) -> Value,
    ) -> Map<String, Value> {
        let mut event = Map::new();
        event.insert("actionId".into(), json!(self.action_id));
        event.insert("actionState".into(), json!(state.wire_name));
        event.insert("actionMediaType".into(), json!(media_type.wire_name));
        event.insert("actionMapId".into(), json!(self.action_map_id));
        event.insert("actionMapVersion".into(), json!(self.action_map_version));
        event.insert("customerId".into(), json!(self.customer_id));
        event.insert("customerIdType".into(), json!(self.customer_id_type));
        event.insert("sessionId".into(), json!(self.session_id));
        let declared = media_type.fields.iter().filter(|field| field.required);
        let by_state = state.requires.iter().filter_map(|name| {
            media_type
                .all_fields()
                .find(|field| field.rust_name == *name || field.wire_name == *name)
        });
        for field in declared.chain(by_state) {
            if event.contains_key(field.wire_name) {
                continue;
            }
            if field.wire_name == "errorMessage" {
                event.insert("errorCode".into(), json!(500));
                event.insert("errorMessage".into(), json!("widget failed to render"));
                continue;
            }
            event.insert(field.wire_name.to_owned(), value_of(field));
        }
        event
    }
}
