//! `webaction`: simulate, check and report web-action event streams.

// Every decoded event is a box, and the collector frees a request's worth (a hundred or
// so) at once, after its answer. glibc's per-thread cache keeps only seven free chunks of
// a size: the rest go through its shared bins, coalescing and consolidating, which perf
// showed as a fifth of the request threads' time. mimalloc keeps free lists per thread
// and per page, and takes such a burst at the cost of a push each (BENCHMARKS.md,
// seventeenth session, has the figures). A library leaves the allocator to the program:
// only the binary sets it.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    events_cli::main_with(events_core::Registry::all())
}
