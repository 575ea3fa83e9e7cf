//! What a producer of events knows about one action before its first event: the ids that
//! every event of the action carries. The generated typestate API (`WebChat::offer(ids)`)
//! starts from them.

use uuid::Uuid;

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
