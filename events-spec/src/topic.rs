//! How wire names make a topic, `"<mediaType>:<state>"`.

/// What separates the media type from the state in a topic, `webchat:offered`.
pub const TOPIC_SEPARATOR: char = ':';

/// The state part of the topic for every state of a media type, `webchat:all`; no state
/// may take it as its wire name or alias.
pub const ALL_STATES: &str = "all";

/// Why `wire_name` cannot be a part of a topic, or `None` when it can: it must not be
/// empty, contain the [`TOPIC_SEPARATOR`] or whitespace.
pub fn wire_name_problem(wire_name: &str) -> Option<&'static str> {
    if wire_name.is_empty() {
        Some("is empty")
    } else if wire_name.contains(TOPIC_SEPARATOR) {
        Some("contains `:`, which separates media type and state in a topic")
    } else if wire_name.chars().any(char::is_whitespace) {
        Some("contains whitespace (spellings with spaces belong in `aliases`)")
    } else {
        None
    }
}
