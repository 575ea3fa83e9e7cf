//! Where each event type's thread-local of bus table copies is declared: the storage
//! `media_type!` declares next to an event type, named by [`Event`](crate::Event) so
//! that `Events::emit::<E>` finds it with no type check (see the bus's `snapshot`
//! module). What the storage holds is the bus's business ([`LocalCopies`] is implemented
//! there); this module only names it, so that the media types sit below the bus.

use std::cell::RefCell;

/// What an event type's thread-local holds, and its empty value. Implemented by the bus
/// for every event type; not public API.
pub trait LocalCopies {
    /// The copies of bus tables kept for this event type.
    type Copies: 'static;
    /// No copy yet.
    const EMPTY: Self::Copies;
}

/// The thread-local storage of one event type's copies of bus tables. Declared by
/// `media_type!`; not public API.
pub struct TypedLocal<E: LocalCopies>(pub(crate) RefCell<E::Copies>);

impl<E: LocalCopies> TypedLocal<E> {
    /// The empty storage, for `thread_local!`'s `const` initialiser.
    #[allow(clippy::new_without_default)] // only a `const` block calls it
    pub const fn new() -> Self {
        TypedLocal(RefCell::new(E::EMPTY))
    }
}

impl<E: LocalCopies> std::fmt::Debug for TypedLocal<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TypedLocal")
    }
}
