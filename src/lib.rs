#![doc = include_str!("../README.md")]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

pub use events_core::*;

/// What generated code needs; not public API.
#[doc(hidden)]
pub use events_core::__private;

/// Declares a media type.
#[doc = include_str!("../docs/dsl.md")]
#[macro_export]
macro_rules! media_type {
    ($($declaration:tt)*) => {
        $crate::__private::media_type! { crate = $crate; $($declaration)* }
    };
}
