//! The traits every `media_type!` declaration implements.

use std::fmt::{Debug, Display};
use std::hash::Hash;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::bus_local::{LocalCopies, TypedLocal};
use crate::description::MediaTypeDescription;
use crate::event::{CustomerIdType, EventError, RawEvent, UnknownState};
use crate::topic::Topic;

/// A media type's state enum (`WebChat`, `ContentOffer`, ...), tied to its event type and
/// to the static description of its declaration.
///
/// Implemented by `media_type!`; the inherent methods of the same names are `const fn`.
pub trait MediaType:
    Copy + Eq + Ord + Hash + Debug + Display + Serialize + DeserializeOwned + Send + Sync + 'static
{
    /// The event struct of this media type (`WebChatEvent`, ...).
    type Event: Event<MediaType = Self>;

    /// Everything the declaration says.
    const DESCRIPTION: &'static MediaTypeDescription;

    /// Every state, in declaration order.
    const ALL: &'static [Self];

    /// The state's position in [`ALL`](Self::ALL) and in the description's states.
    fn index(self) -> usize;

    /// The wire name (`actionState` value).
    fn as_str(self) -> &'static str;

    /// Reads a wire name or alias.
    fn parse(name: &str) -> Result<Self, UnknownState>;

    /// Whether a lifecycle may start in this state.
    fn is_initial(self) -> bool;

    /// Whether this state is terminal in the vendor's sense (no re-offer).
    fn is_terminal(self) -> bool;

    /// Whether no event follows this state: terminal states and end states both.
    fn is_end(self) -> bool;

    /// Whether `next` may directly follow this state.
    fn can_transition_to(self, next: Self) -> bool;

    /// The states that may directly follow this one, in declaration order.
    fn successors(self) -> &'static [Self];

    /// The topic `"<mediaType>:<state>"` of this state.
    fn topic_of(self) -> Topic {
        Topic::state(Self::DESCRIPTION, self.index())
    }
}

/// An event of one media type: the ten documented fields, the declared ones, and every
/// other field it came with.
pub trait Event:
    Clone + Debug + PartialEq + Serialize + DeserializeOwned + Send + Sync + 'static
{
    /// The media type's state enum.
    type MediaType: MediaType<Event = Self>;

    /// Finishes reading an event from its documented fields: checks the media type and
    /// the state, takes the declared fields out of `raw.rest` and checks the fields the
    /// state requires.
    fn from_raw(raw: RawEvent<'_>) -> Result<Self, EventError>;

    /// `actionState`.
    fn state(&self) -> Self::MediaType;
    /// `actionId`.
    fn action_id(&self) -> Uuid;
    /// `actionMapId`.
    fn action_map_id(&self) -> Uuid;
    /// `actionMapVersion`.
    fn action_map_version(&self) -> u32;
    /// `customerId`.
    fn customer_id(&self) -> Uuid;
    /// `customerIdType`.
    fn customer_id_type(&self) -> &CustomerIdType;
    /// `sessionId`.
    fn session_id(&self) -> Uuid;
    /// `errorCode`.
    fn error_code(&self) -> Option<i64>;
    /// `errorMessage`.
    fn error_message(&self) -> Option<&str>;
    /// Fields neither documented nor declared, in the order they came; written back out.
    fn extra(&self) -> &Map<String, Value>;
    /// The same, to add or change fields (enrichment).
    fn extra_mut(&mut self) -> &mut Map<String, Value>;

    /// Appends the event's JSON to `out`: the bytes `serde_json` writes through the
    /// event's `Serialize`. What `media_type!` generates writes the documented fields
    /// and the field names without serde: every sink writes each event's JSON with it.
    fn append_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        serde_json::to_writer(out, self)
    }

    /// Reads one event from JSON bytes, with a typed error that names the field at fault.
    /// The outer error is JSON that is not well-formed.
    fn from_json_slice(bytes: &[u8]) -> Result<Result<Self, EventError>, serde_json::Error> {
        Ok(RawEvent::from_slice(bytes)?.and_then(Self::from_raw))
    }

    /// This type's own thread-local of bus table copies, which lets
    /// [`Events::emit`](crate::Events::emit) reach its handlers without a type check.
    /// `media_type!` declares it; not public API.
    #[doc(hidden)]
    fn __bus_local() -> Option<&'static std::thread::LocalKey<TypedLocal<Self>>>
    where
        Self: LocalCopies,
    {
        None
    }
}
