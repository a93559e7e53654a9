//! One `par` call's shared state: whether it must stop handing out pieces, and (for
//! the `try_*` forms) the failures it collected.
//!
//! A call is made on the caller's stack and lives until the call returns, which is
//! after every piece of it has ended, so pieces on other workers may point at it.
//! Calls nest: a slice form or a `scope` inside a piece makes its own call whose
//! parent is the piece's call, so that a failure inside it stops it alone (the piece
//! may catch its panic and go on). A `join` is too small to pay for a call: it runs
//! inside the call it is in. A tree of joins made outside any other call runs in the
//! outermost call, made for it: a panic that leaves the tree's outermost join stops
//! the whole tree; a join inside the tree, or inside a piece of a slice form or a
//! scope, stops only its other half, if nobody took it (a closure around it may
//! catch the panic and go on).
//!
//! Reading whether to stop is one atomic load of the innermost call's flag (at each
//! half, spawn, slice piece and look; see `README.md`). The enclosing calls and the
//! cancel scope the outermost call was made in are looked at every so often (see
//! `registry.rs`) and on entry, and copied into that flag.

use std::sync::Mutex;
use std::time::Instant;

use super::job::{CallPtr, Panic};
use super::latch::CountLatch;
use crate::cancel::node::ScopeNode;
use crate::group::error::{GroupError, Kind, Payload, Reason, TaskError};
use crate::loom::sync::Arc;
use crate::loom::sync::atomic::{AtomicBool, Ordering};

/// The state of one `par` call.
pub(crate) struct Call {
    stop: AtomicBool,
    /// The enclosing call, if this one runs inside a piece of another (else null).
    parent: CallPtr,
    /// The cancel scope the outermost call was made in.
    scope: Option<Arc<ScopeNode>>,
    /// The outermost call was made while a panic unwound (in a `Drop` the unwind ran):
    /// it must not unwind itself, which would abort the process, so it does not stop
    /// for a cancel of its scope.
    deaf: bool,
    /// The earliest deadline of that scope and those around it: a scope's timer is
    /// armed only when its work suspends, which a `par` call inside a first poll
    /// never does, and a deadline set or moved during the call re-arms no timer
    /// before the call returns.
    deadline: Mutex<Deadline>,
    /// Failures of a `try_*` call, in the order they happened.
    errors: Mutex<Vec<TaskError>>,
    /// A `scope`'s spawns still running, plus one for its body.
    pub(crate) spawns: CountLatch,
    /// A `scope`'s first panic of a spawn.
    panic: Mutex<Option<Panic>>,
    /// A piece was not started because the call had stopped.
    skipped: AtomicBool,
}

/// The effective deadline of a call's scope, read when the call is made and read again
/// whenever a scope around the call changed its deadline since.
struct Deadline {
    /// The sum of the deadline versions of the scopes it was read from.
    versions: u64,
    at: Option<Instant>,
}

impl Deadline {
    fn read(scope: &ScopeNode) -> Deadline {
        // Versions first: a change after this is seen at the next read.
        let versions = deadline_versions(scope);
        Deadline {
            versions,
            at: scope.effective_deadline(),
        }
    }
}

/// The sum of the deadline versions of `scope` and the scopes around it, up to the
/// first shield, where its effective deadline stops: each only grows, so the sum
/// changes whenever one of them does. (The shield of a child that has not called
/// `started` yet lets its caller's deadlines through; a change of those during the
/// call is not seen.)
fn deadline_versions(scope: &ScopeNode) -> u64 {
    let mut sum = 0u64;
    let mut node = scope;
    loop {
        sum = sum.wrapping_add(node.deadline_version());
        if node.is_shielded() {
            return sum;
        }
        match node.parent() {
            Some(parent) => node = parent,
            None => return sum,
        }
    }
}

/// Cancels the scopes around `scope` whose deadline has passed by `now`, waking the
/// work inside them, as their timers would have; a waker that panics is contained, as
/// when a timer fires it on a worker: the panic hook has reported it, and the scope
/// is cancelled all the same (the flag is set before the wake-ups), so the call stops
/// as cancelled work. Nothing may unwind out of a look: it runs while jobs that borrow
/// the frame of a join or a scope are offered or running (rule 6 in `job.rs`).
fn fire_passed_deadlines(scope: &ScopeNode, now: Instant) {
    let _ = crate::runtime::contain_waker_panic(|| scope.cancel_passed_deadlines(now));
}

impl Call {
    /// A call made inside `parent` (a piece of another call) or, outermost, in the
    /// current cancel scope.
    pub(crate) fn new(parent: CallPtr) -> Call {
        Call::with_owner(parent, 0)
    }

    /// A call whose spawns worker `owner` waits for (a `scope`).
    pub(crate) fn with_owner(parent: CallPtr, owner: usize) -> Call {
        let scope = if parent.is_null() {
            crate::cancel::current::current_to_read()
        } else {
            None
        };
        let deadline = Deadline {
            versions: 0,
            at: None,
        };
        let deadline = Mutex::new(scope.as_deref().map_or(deadline, Deadline::read));
        let call = Call {
            stop: AtomicBool::new(false),
            parent,
            scope,
            deaf: parent.is_null() && std::thread::panicking(),
            deadline,
            errors: Mutex::new(Vec::new()),
            spawns: CountLatch::new(1, owner),
            panic: Mutex::new(None),
            skipped: AtomicBool::new(false),
        };
        call.refresh();
        call
    }

    /// The cancel scope the outermost call around this one was made in: the scope its
    /// pieces run in.
    fn scope(&self) -> Option<&Arc<ScopeNode>> {
        let mut call = self;
        while let Some(parent) = call.parent.get() {
            call = parent;
        }
        call.scope.as_ref()
    }

    /// Runs `f`, a piece of this call that may run on any worker, in the cancel scope
    /// the outermost call was made in (in none if it was made outside every scope),
    /// as the code that made the call: what it reads of the current scope, such as
    /// the effective deadline, is the caller's. The scope is borrowed from the
    /// outermost call, so this returns before the piece sets its latch (after which
    /// the call may be gone).
    pub(crate) fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        match self.scope() {
            Some(scope) => crate::cancel::current::enter(scope, f).0,
            None => crate::cancel::current::enter_none(f),
        }
    }

    /// Whether new pieces must not start. One load.
    #[inline]
    pub(crate) fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Stops the call because a piece failed.
    pub(crate) fn fail(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Looks at the enclosing calls and the cancel scope, and stops this call if any
    /// of them is stopped or cancelled.
    pub(crate) fn refresh(&self) {
        if self.stopped() {
            return;
        }
        let mut call = self;
        loop {
            if call.stopped() {
                self.stop.store(true, Ordering::Relaxed);
                return;
            }
            match call.parent.get() {
                Some(parent) => call = parent,
                None => break,
            }
        }
        let Some(scope) = call.scope.as_ref().filter(|_| !call.deaf) else {
            return;
        };
        if scope.cancelled_by().is_none() {
            // A deadline that passed while the work never suspended was fired by no
            // timer: fire it here, so that the scope is cancelled when the call stops
            // for it, and catches the call's `Cancelled` unwinding as cancelled work.
            let Some(deadline) = call.deadline(scope) else {
                return;
            };
            match crate::cancel::deadline::now() {
                Some(now) if now >= deadline => fire_passed_deadlines(scope, now),
                _ => return,
            }
            // (Not cancelled if the deadline was moved later meanwhile.)
            if scope.cancelled_by().is_none() {
                return;
            }
        }
        self.stop.store(true, Ordering::Relaxed);
    }

    /// The effective deadline of `scope`, this outermost call's, read again if a
    /// scope around the call changed its deadline since it was last read.
    fn deadline(&self, scope: &ScopeNode) -> Option<Instant> {
        let mut deadline = self.deadline.lock().unwrap_or_else(|e| e.into_inner());
        if deadline.versions != deadline_versions(scope) {
            *deadline = Deadline::read(scope);
        }
        deadline.at
    }

    /// A piece was not started because the call had stopped.
    pub(crate) fn skip(&self) {
        self.skipped.store(true, Ordering::Relaxed);
    }

    /// A piece ended early because a call nested in it was stopped: this call cannot
    /// complete, so it stops too. It unwinds with `Cancelled` unless a piece failed
    /// (the nested call copied this call's stop, or saw the cancelled scope).
    pub(crate) fn cut_short(&self) {
        self.skip();
        self.fail();
    }

    /// Whether a piece was not started.
    pub(crate) fn was_skipped(&self) -> bool {
        self.skipped.load(Ordering::Relaxed)
    }

    /// Keeps a spawn's panic (the first, but a real one before a cancellation) and
    /// stops the call. Does not unwind: a payload not kept is dropped by `pick`.
    pub(crate) fn keep_panic(&self, panic: Panic) {
        self.fail();
        let mut slot = self.panic.lock().unwrap_or_else(|e| e.into_inner());
        *slot = Some(match slot.take() {
            Some(kept) => super::join::pick(kept, Some(panic)),
            None => panic,
        });
    }

    /// The kept panic, if any.
    pub(crate) fn take_panic(&self) -> Option<Panic> {
        self.panic.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// Records a failure of a `try_*` piece and stops the call.
    pub(crate) fn record(&self, kind: Kind) {
        self.errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(TaskError::new(None, kind));
        self.fail();
    }

    /// Records a panic of a `try_*` piece and stops the call.
    pub(crate) fn record_panic(&self, payload: Panic) {
        self.record(Kind::Panic(Payload::new(payload)));
    }

    /// What a `try_*` call in which pieces failed returns: every failure. Called once,
    /// when its pieces have ended. (A call stopped with no failure unwinds with
    /// `Cancelled` instead, like the other forms.)
    pub(crate) fn take_error(&self) -> GroupError {
        let errors = std::mem::take(&mut *self.errors.lock().unwrap_or_else(|e| e.into_inner()));
        GroupError::new(errors, Reason::Failed, None)
    }

    /// Whether a `try_*` piece failed.
    pub(crate) fn has_errors(&self) -> bool {
        !self
            .errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }
}
