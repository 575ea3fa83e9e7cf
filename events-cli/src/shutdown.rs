//! SIGTERM and SIGINT for the synchronous commands: a thread waits for the signals, so a
//! command can stop at its next step, account for what it did, and exit with
//! [`EXIT_INTERRUPTED`] instead of dying mid-write.
//!
//! Semantics, for every command that installs it:
//!
//! - The first SIGTERM or SIGINT sets [`Shutdown::requested`] and runs the hooks given
//!   to [`Shutdown::on_signal`] (with [`Interrupt::repeated`] false): the command stops
//!   reading input at its next line, and a blocked sink is woken
//!   ([`Sink::shut_down`](events_sinks::Sink::shut_down)).
//! - Each later signal runs the hooks again with `repeated` true: `replay` then stops
//!   waiting for in-flight deliveries and dead-letters them at once; the process still
//!   exits through the normal path, after the dead letter is written and flushed.
//! - The command prints its counts and exits with status [`EXIT_INTERRUPTED`] (3):
//!   "interrupted: stopped early, every event read is accounted for in the counts".
//!
//! A read blocked on an input that sends nothing (a silent pipe) is not interrupted: the
//! command stops once that read returns (data or end of input).
//!
//! ```no_run
//! use events_cli::shutdown::Shutdown;
//!
//! let shutdown = Shutdown::install()?;
//! shutdown.on_signal(|interrupt| eprintln!("stopping ({})", interrupt.name()));
//! while !shutdown.requested() {
//!     // one unit of work
//! #   break;
//! }
//! # Ok::<(), std::io::Error>(())
//! ```

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::{Handle, Signals};

/// The exit status of a command stopped by SIGTERM or SIGINT: it stopped early, and
/// every event it read is accounted for in the counts it printed (delivered,
/// dead-lettered with reason `shutdown`, ...).
pub const EXIT_INTERRUPTED: u8 = 3;

/// [`Shutdown::install`], or when signals cannot be caught, a warning on standard error
/// and [`Shutdown::manual`]: the command still runs, but a signal then stops it the
/// default way, without counts.
pub fn install_or_warn() -> Shutdown {
    Shutdown::install().unwrap_or_else(|error| {
        eprintln!(
            "webaction: warning: cannot catch SIGTERM and SIGINT ({error}); a signal will \
             stop the command without counts"
        );
        Shutdown::manual()
    })
}

/// One signal, as the hooks see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interrupt {
    /// The signal number (`SIGTERM`, `SIGINT`), or 0 for [`Shutdown::request`].
    pub signal: i32,
    /// Whether a signal came before this one.
    pub repeated: bool,
}

impl Interrupt {
    /// `SIGTERM`, `SIGINT`, or `request` for a shutdown asked by the program.
    pub fn name(&self) -> &'static str {
        match self.signal {
            SIGTERM => "SIGTERM",
            SIGINT => "SIGINT",
            _ => "request",
        }
    }
}

type Hook = Box<dyn Fn(Interrupt) + Send + Sync>;

/// SIGTERM and SIGINT, caught; see the [module](self) for what they do. Cheap to clone;
/// clones share the state. Dropping the last clone stops the signal thread (the signals
/// stay caught, and are then ignored).
#[derive(Clone)]
pub struct Shutdown {
    inner: Arc<Inner>,
}

struct Inner {
    /// Signals received (and requests), in order.
    count: AtomicUsize,
    /// The first one's number.
    first: AtomicI32,
    hooks: Mutex<Vec<Hook>>,
    handle: Option<Handle>,
}

impl Shutdown {
    /// Catches SIGTERM and SIGINT from now on, on a thread of its own.
    pub fn install() -> io::Result<Shutdown> {
        let mut signals = Signals::new([SIGTERM, SIGINT])?;
        let shutdown = Shutdown::with(Some(signals.handle()));
        let waiter = shutdown.clone_weak();
        std::thread::Builder::new()
            .name("webaction-signals".to_owned())
            .spawn(move || {
                for signal in signals.forever() {
                    match waiter.upgrade() {
                        Some(inner) => Shutdown { inner }.receive(signal),
                        None => return,
                    }
                }
            })?;
        Ok(shutdown)
    }

    /// A shutdown that only [`request`](Self::request) triggers: for tests, and for
    /// callers that catch signals their own way.
    pub fn manual() -> Shutdown {
        Shutdown::with(None)
    }

    fn with(handle: Option<Handle>) -> Shutdown {
        Shutdown {
            inner: Arc::new(Inner {
                count: AtomicUsize::new(0),
                first: AtomicI32::new(0),
                hooks: Mutex::new(Vec::new()),
                handle,
            }),
        }
    }

    fn clone_weak(&self) -> std::sync::Weak<Inner> {
        Arc::downgrade(&self.inner)
    }

    /// Whether a signal (or a request) came: stop at the next step.
    pub fn requested(&self) -> bool {
        self.inner.count.load(Ordering::SeqCst) > 0
    }

    /// The first signal, once one came.
    pub fn interrupt(&self) -> Option<Interrupt> {
        self.requested().then(|| Interrupt {
            signal: self.inner.first.load(Ordering::SeqCst),
            repeated: self.inner.count.load(Ordering::SeqCst) > 1,
        })
    }

    /// Runs `hook` on the signal thread for every signal from now on: the way to wake
    /// something blocked (a sink's send waiting for room). A hook must not block for
    /// long (later signals wait for it), and must not call `on_signal` itself.
    pub fn on_signal(&self, hook: impl Fn(Interrupt) + Send + Sync + 'static) {
        self.hooks().push(Box::new(hook));
    }

    /// Acts as if a signal came: what a program does to stop itself the same way.
    pub fn request(&self) {
        self.receive(0);
    }

    fn receive(&self, signal: i32) {
        let previous = self.inner.count.fetch_add(1, Ordering::SeqCst);
        if previous == 0 {
            self.inner.first.store(signal, Ordering::SeqCst);
        }
        let interrupt = Interrupt {
            signal,
            repeated: previous > 0,
        };
        for hook in self.hooks().iter() {
            hook(interrupt);
        }
    }

    fn hooks(&self) -> MutexGuard<'_, Vec<Hook>> {
        // A hook that panicked leaves the list intact; keep running the others.
        self.inner
            .hooks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(handle) = &self.handle {
            handle.close();
        }
    }
}

impl fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shutdown")
            .field("interrupt", &self.interrupt())
            .field("hooks", &self.hooks().len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_runs_the_hooks_and_a_second_one_says_it_repeats() {
        let shutdown = Shutdown::manual();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&seen);
        shutdown.on_signal(move |interrupt| kept.lock().unwrap().push(interrupt.repeated));
        assert!(!shutdown.requested());
        shutdown.request();
        assert!(shutdown.requested());
        shutdown.request();
        assert_eq!(*seen.lock().unwrap(), [false, true]);
        assert_eq!(shutdown.interrupt().unwrap().name(), "request");
    }
}
