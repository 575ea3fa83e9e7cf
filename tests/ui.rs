//! Compile-time diagnostics: every `tests/ui/*.rs` either fails with exactly the
//! `.stderr` beside it, or (`tests/ui/pass/*.rs`) compiles.
//!
//! The expected output depends on the compiler's wording, so the cases run only on the
//! toolchain they were written with; regenerate them with
//! `TRYBUILD=overwrite cargo test --test ui` and read the diff.

#[rustversion::attr(not(stable(1.95)), ignore = "UI output is pinned to Rust 1.95")]
#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
    cases.pass("tests/ui/pass/*.rs");
}
