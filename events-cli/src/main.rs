//! `webaction`: simulate, check and report web-action event streams.

// Every decoded event is a box, and the collector frees a request's worth (a hundred or
// so) at once, after its answer; check's workers free what the reader's thread
// allocated. glibc's per-thread cache keeps only seven free chunks of a size: the rest go
// through its shared bins, coalescing and consolidating, and a chunk freed on another
// thread takes its arena's lock. mimalloc's free lists are per thread and per page, and
// take a free from another thread without a lock (BENCHMARKS.md, seventeenth session,
// has the figures). A library leaves the allocator to the program: only the binary sets it.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    events_cli::main_with(events_core::Registry::all())
}
