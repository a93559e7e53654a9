//! The rules a pride program can rely on.
//!
//! This module holds no code: it states, in one place, what task groups, cancel
//! scopes, deadlines and the primitives promise. Each rule is exercised by the crate's
//! tests; where a rule is not written here, don't rely on it.
//!
//! Cancellation in Rust is dropping. A cancelled task's future is dropped at its next
//! suspension point (an `.await` that has to wait, or [`checkpoint`](crate::checkpoint)),
//! and its `Drop` impls are its cleanup. Everything below builds on that.
//!
//! # Task groups
//!
//! **Join.** [`task_group`](crate::task_group) returns only after its body and every
//! child have finished or been dropped. Returning from the body does not cancel the
//! children; the group waits for them.
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicBool, Ordering};
//! use std::time::Duration;
//!
//! pride::run(async {
//!     let done = Arc::new(AtomicBool::new(false));
//!     let flag = done.clone();
//!     pride::task_group(async |tg| {
//!         tg.start_soon(async move {
//!             pride::sleep(Duration::from_millis(10)).await;
//!             flag.store(true, Ordering::SeqCst);
//!         });
//!         // The body returns at once; the group still waits for the child.
//!     })
//!     .await
//!     .unwrap();
//!     assert!(done.load(Ordering::SeqCst));
//! });
//! ```
//!
//! **An empty group's exit is not a suspension point.** A group adds no suspension
//! point of its own: one that started no child ends in the same poll as its body. So
//! inside a scope that is already cancelled, a group whose body returns `v` without
//! suspending gives `Ok(v)` (it is not dropped as cancelled work at its exit), and the
//! cancel takes effect at the next suspension point after it.
//!
//! **No orphans.** Once a group's future has completed, or has been dropped, no child
//! code runs again and every child future has been dropped. Dropping a group future
//! cancels its children and waits for any child that is in the middle of a poll on
//! another worker to finish that poll.
//!
//! A drop cannot wait for a poll that is further down its own thread's stack, which
//! can happen three ways. The future is dropped by one of the group's own children (it
//! was handed one): the drop waits for the other children, not for that one. Or it is
//! dropped by code running during `par` work (a task that a worker polls during the
//! upkeep of a long `par` call, or a `par` item), where the poll of any child may be
//! further down: the drop waits for none of the children being polled. Or the
//! [`Runtime`](crate::Runtime) is dropped inside one of its own tasks, and its drop
//! drops the tasks still alive there: no group's future dropped on that worker from
//! then on waits for a child (the dropping task's poll is further down). The children
//! not waited for are cancelled and dropped when their poll in progress returns, and
//! every group around the dropped one waits for them, so none of those ends before
//! them; with no group around (the group was opened directly in `block_on`'s future),
//! nothing waits. A group that completes is never in this case.
//!
//! **Fail fast.** The first error (a child or the body returning `Err`) or panic cancels
//! the group's scope: the siblings and the body are dropped at their next suspension
//! point.
//!
//! **Every error comes back.** The group then returns `Err(`[`GroupError`](crate::GroupError)`)`
//! holding every error and panic, each as a [`TaskError`](crate::TaskError) with its
//! task's name. Even a single error is wrapped. Being cancelled is never an entry: the
//! siblings dropped because of the first failure add nothing, and neither does work
//! that a cancel reaches and that passes on (say with `?`) a handle's
//! [`TaskError`](crate::TaskError) saying its task was cancelled, or copying a failure
//! already reported to this group (or to a group around it): the work ends as cancelled
//! work, as it would have at its next suspension point. (A copy of a failure that went
//! to a group elsewhere stays an entry: it may be all that is left of it.) A child
//! that itself returns a `GroupError` (from a nested group) is kept whole, as one
//! entry. Entries are in the order the failures happened.
//!
//! ```
//! use std::time::Duration;
//!
//! pride::run(async {
//!     let error = pride::task_group(async |tg| {
//!         tg.start_soon_named("first", async { Err::<(), _>("boom") });
//!         tg.start_soon_named("second", async {
//!             pride::sleep(Duration::from_millis(5)).await;
//!             Err::<(), _>("never reached: cancelled by the first failure")
//!         });
//!     })
//!     .await
//!     .unwrap_err();
//!     assert_eq!(error.errors().len(), 1);
//!     assert_eq!(error.errors()[0].name(), Some("first"));
//! });
//! ```
//!
//! **Panics.** A panicking child is caught on its worker (the worker survives), becomes
//! a `TaskError` with [`is_panic`](crate::TaskError::is_panic), and cancels its
//! siblings like an error does.
//!
//! **Spawning** is not a suspension point. A group accepts new children until it has
//! fully exited, so children may start siblings while the body waits. After that,
//! [`start_soon`](crate::TaskGroup::start_soon) panics with a message saying the group
//! has exited, while [`try_start_soon`](crate::TaskGroup::try_start_soon) and
//! [`start`](crate::TaskGroup::start) return an error. A child started into a group that
//! is cancelled but still open is started, and then dropped at its first suspension
//! point.
//!
//! **Per-task cancel.** [`TaskHandle::cancel`](crate::TaskHandle::cancel) cancels that
//! child only. It is not a group failure. The child is dropped at its next suspension
//! point, and awaiting the handle then gives an error that says the child was
//! cancelled; a child that finishes first (before the cancel, or before it next
//! suspends) gives its outcome. This holds for a child cancelled before it first ran,
//! too: it runs up to its first suspension point, and one that finishes without
//! suspending gives its outcome. Dropping a handle does not cancel its child. Only a
//! child still queued behind its group's concurrency limit never starts: `cancel`
//! takes it out of the queue and drops it there and then, so its `Drop` code runs
//! inside the call (do not hold a lock there that the child's captured values take
//! when dropped).
//!
//! ```
//! pride::run(async {
//!     pride::task_group(async |tg| {
//!         let stuck = tg.spawn(std::future::pending::<()>());
//!         stuck.cancel();
//!         assert!(stuck.await.is_err()); // cancelled: an error for the handle only
//!     })
//!     .await
//!     .unwrap(); // not a group failure
//! });
//! ```
//!
//! # Cancel scopes
//!
//! **Scopes nest.** Each group owns a [`CancelScope`](crate::CancelScope) whose parent
//! is the scope that was current where the group was opened (not where a child was
//! started). Cancelling a scope cancels everything inside it, down through nested
//! groups, at once.
//!
//! **The outermost cancelled scope catches.** When several nested scopes are cancelled,
//! the outermost one not cut off by a shield drops the work and reports
//! [`cancelled_caught`](crate::CancelScope::cancelled_caught); the inner ones do not.
//!
//! **Shields.** A shielded scope is not cancelled by scopes outside it; its own
//! `cancel()` and its own deadline still fire. Shielding a group's scope protects its
//! children. [`set_shield`](crate::CancelScope::set_shield) takes effect at once:
//! shielding a scope a task is blocked in keeps a later cancel from outside away from
//! it, and unshielding wakes a task blocked inside, which is then dropped if an outer
//! scope was cancelled. A cancel reaches blocked work when the cancel has woken it and
//! it is next polled, and the shields are read then: a shield set on a scope around
//! the work after the cancel but before that poll (in the same stretch of code as the
//! `cancel()`, say) still keeps the cancel out of it, as if it had been set first.
//! (Trio delivers a cancel to blocked tasks inside `cancel()` itself, so there a shield
//! set afterwards comes too late for them.) A child being started with
//! [`start`](crate::TaskGroup::start) that has not yet called `started` is the
//! exception: a cancel that reaches its caller cancels the child's own scope inside
//! `cancel()` (the child is not below its caller in the tree), so a shield set on the
//! caller's side afterwards does not bring it back.
//!
//! A future holds work inside a shield while a shielded scope entered in it is live
//! (entered and not yet exited or dropped). A cancel from outside does not drop such a
//! future, even where it waits on something else besides: a `select!` with a shielded
//! branch still pending, say, is not dropped by that cancel until the shielded branch
//! ends (meanwhile its branches that never suspended inside a cancel scope are as good
//! as dropped: they are not polled, and cannot win).
//! A shielded scope that lost a `select!` and was dropped protects nothing. A
//! task group waiting in the future is not dropped by the cancel either (it drains its
//! children and ends), but only where the future is waiting in it: a group future
//! polled once and kept while the future waits on something else protects nothing.
//!
//! ```
//! use std::time::Duration;
//!
//! let rt = pride::Runtime::builder()
//!     .clock(pride::time::Clock::autojump())
//!     .build()
//!     .unwrap();
//! rt.block_on(async {
//!     let outer = pride::CancelScope::new();
//!     let handle = outer.clone();
//!     let result = outer
//!         .run(async move {
//!             handle.cancel();
//!             // Cleanup that must finish even though the scope around it is cancelled.
//!             let shield = pride::CancelScope::new();
//!             shield.set_shield(true);
//!             let flushed = shield
//!                 .run(async {
//!                     pride::sleep(Duration::from_secs(1)).await;
//!                     "flushed"
//!                 })
//!                 .await;
//!             assert_eq!(flushed, Some("flushed"));
//!             pride::checkpoint().await; // the outer cancel takes effect here
//!             "not reached"
//!         })
//!         .await;
//!     assert_eq!(result, None);
//!     assert!(outer.cancelled_caught());
//! });
//! ```
//!
//! **`cancel()`** is synchronous, idempotent, cannot be undone, and is not a suspension
//! point: code after it runs on until its next suspension point or `checkpoint()`.
//! [`cancel_called`](crate::CancelScope::cancel_called) never goes back to `false`;
//! `cancelled_caught` is `true` only if this scope dropped work.
//!
//! **`move_on` gives up quietly, `fail` is an error.** [`CancelScope::run`](crate::CancelScope::run)
//! and [`move_on_after`](crate::move_on_after) / [`move_on_at`](crate::move_on_at)
//! return `None` when their own scope dropped the work.
//! [`fail_after`](crate::fail_after) / [`fail_at`](crate::fail_at) return
//! `Err(`[`TimeoutError`](crate::TimeoutError)`)` only when their own deadline really
//! passed; a cancel from a scope further out passes through them unchanged.
//!
//! ```
//! use std::future::pending;
//! use std::time::Duration;
//!
//! let rt = pride::Runtime::builder()
//!     .clock(pride::time::Clock::autojump())
//!     .build()
//!     .unwrap();
//! rt.block_on(async {
//!     let quiet = pride::move_on_after(Duration::from_secs(1), pending::<()>()).await;
//!     assert_eq!(quiet, None);
//!     let loud = pride::fail_after(Duration::from_secs(1), pending::<()>()).await;
//!     assert!(loud.is_err());
//! });
//! ```
//!
//! # Deadlines
//!
//! A deadline passing is a `cancel()` that happens by itself.
//!
//! - A scope entered with a deadline already past is cancelled at once: the work is
//!   dropped at its first suspension point (work that never suspends still finishes).
//! - [`set_deadline`](crate::CancelScope::set_deadline) re-arms at once, earlier or
//!   later, even from another task. Moving a deadline later cannot undo a cancel that
//!   already happened. On a scope that has exited it changes nothing.
//! - Nested deadlines: the earliest effective one wins, and with equal deadlines the
//!   outermost scope catches.
//! - Relative timeouts ([`CancelScope::with_timeout`](crate::CancelScope::with_timeout),
//!   `move_on_after`, `fail_after`) count from the first poll, not from when the value
//!   was made.
//! - A deadline beyond what [`Instant`](std::time::Instant) can hold saturates and never
//!   fires; it is not a panic.
//! - [`current_effective_deadline`](crate::current_effective_deadline) is the earliest
//!   deadline up to the nearest shield (in a child that has not yet started, its
//!   caller's scopes count: see below); inside a cancelled, unshielded scope it is not
//!   later than now.
//!
//! **A group's own deadline is an error; an explicit cancel is a shutdown.** If the
//! deadline of a group's scope fires and cuts work short, the group returns a
//! `GroupError` with [`is_timeout`](crate::GroupError::is_timeout): work silently lost
//! to a timeout would be worse. A deadline that passes after all the work finished
//! changes nothing. An explicit `tg.cancel_scope().cancel()` is a deliberate shutdown:
//! the group returns `Ok(v)` if the body returned `v` (or `Ok(v)`), and an error with
//! [`is_cancelled`](crate::GroupError::is_cancelled) only if the body itself was
//! dropped before producing a value.
//!
//! ```
//! use std::time::Duration;
//!
//! let rt = pride::Runtime::builder()
//!     .clock(pride::time::Clock::autojump())
//!     .build()
//!     .unwrap();
//! rt.block_on(async {
//!     let timed_out = pride::task_group(async |tg| {
//!         tg.cancel_scope()
//!             .set_deadline(Some(pride::current_time() + Duration::from_secs(1)));
//!         tg.start_soon(std::future::pending::<()>());
//!     })
//!     .await
//!     .unwrap_err();
//!     assert!(timed_out.is_timeout());
//!
//!     let shut_down = pride::task_group(async |tg| {
//!         tg.start_soon(std::future::pending::<()>());
//!         tg.cancel_scope().cancel();
//!         Ok::<_, pride::BoxError>(42)
//!     })
//!     .await;
//!     assert_eq!(shut_down.unwrap(), 42);
//! });
//! ```
//!
//! # Starting a child and waiting until it is ready
//!
//! [`TaskGroup::start`](crate::TaskGroup::start) runs a child until it calls
//! [`TaskStatus::started`](crate::TaskStatus::started) and returns the value it passed.
//!
//! - Until `started`, the child belongs to the *caller's* scopes: cancelling the caller
//!   (or a scope around it) reaches the child at once, and their deadlines are its
//!   effective deadline; cancelling the target group does not reach it. The child keeps
//!   the target group open meanwhile.
//! - An error or panic before `started` comes back from `start` as
//!   [`StartError::Failed`](crate::StartError::Failed), not through the group. Such a
//!   child fails once, with its first failure: a panic of its cleanup (its future's
//!   `Drop`) after that is not reported again (the panic hook has shown it).
//! - Returning, or dropping the `TaskStatus`, without calling `started` gives
//!   [`StartError::NotStarted`](crate::StartError::NotStarted) at once: `start` never
//!   hangs. A child that dropped its status and goes on running is from then on an
//!   ordinary child of the target group, as after `started`: its errors go to the
//!   group. Beware `|_status| async move { .. }`: the async block does not capture an
//!   unused `_status`, which is dropped as the task function returns, before the
//!   child first runs; move it into the block (or call `started`) to keep it.
//! - `started(v)` called after the caller was cancelled (also from the task
//!   function's own synchronous part, before its future is first polled) does not move
//!   the child into the target group; the child stays cancelled. Neither does dropping
//!   the `TaskStatus` after that cancel.
//! - A `start` on a group that has exited returns
//!   [`StartError::Closed`](crate::StartError::Closed) without calling the task
//!   function.
//! - An error or panic of a starting child whose caller was cancelled or dropped is not
//!   lost: it goes to the target group as that child's failure.
//! - After `started`, the child belongs to the target group, and its errors go there.
//!
//! ```
//! use pride::{StartError, TaskStatus};
//!
//! pride::run(async {
//!     pride::task_group(async |tg| {
//!         let port = tg
//!             .start(|status: TaskStatus<u16>| async move { status.started(8080) })
//!             .await
//!             .unwrap();
//!         assert_eq!(port, 8080);
//!
//!         let never = tg.start(|_status: TaskStatus<u16>| async {}).await;
//!         assert!(matches!(never, Err(StartError::NotStarted)));
//!     })
//!     .await
//!     .unwrap();
//! });
//! ```
//!
//! # Cancellation from outside, and cleanup
//!
//! **A group cancelled from outside drains.** When a scope around a group is cancelled,
//! the cancel reaches its children at once, but the group keeps running until every
//! child has ended (shielded work inside a child runs on to its end). If any child or
//! the body failed, cleanup panics included, the group completes with a `GroupError`
//! holding every entry, and that value passes out through the cancelled scopes like any
//! other result ([`CancelScope::run`](crate::CancelScope::run) returns `Some(Err(..))`):
//! errors are never lost to a cancel. If nothing failed, the group ends as cancelled
//! work and the outermost cancelled scope catches. Only a group future dropped by hand
//! (not by a scope) is torn down at once, as "No orphans" describes.
//!
//! **Awaited again after its catcher.** The catching scope drops the work it holds. A
//! future it holds only by reference (awaited through `&mut` inside a timeout, as in
//! `move_on_after(d, &mut group)`) is not dropped: awaited again where no cancel
//! stands, a group that ended as cancelled work returns an error with
//! [`is_cancelled`](crate::GroupError::is_cancelled), a `start` whose child it dropped
//! returns [`StartError::NotStarted`](crate::StartError::NotStarted), and a
//! [`CancelScope::run`](crate::CancelScope::run) returns `None`; a `fail_after` future,
//! which has no outcome for this, panics saying so.
//!
//! ```
//! use std::time::Duration;
//! use pride::CancelScope;
//!
//! let rt = pride::Runtime::builder()
//!     .clock(pride::time::Clock::autojump())
//!     .build()
//!     .unwrap();
//! rt.block_on(async {
//!     let outer = CancelScope::new();
//!     let handle = outer.clone();
//!     let result = outer
//!         .run(pride::task_group(async move |tg| {
//!             tg.start_soon_named("flusher", async {
//!                 let shield = CancelScope::new();
//!                 shield.set_shield(true);
//!                 shield
//!                     .run(async {
//!                         pride::sleep(Duration::from_secs(1)).await;
//!                         Err::<(), _>("flush failed")
//!                     })
//!                     .await
//!                     .unwrap()
//!             });
//!             handle.cancel(); // the scope around the group
//!         }))
//!         .await;
//!     // The group drained, and its error came out through the cancelled scope.
//!     let error = result.unwrap().unwrap_err();
//!     assert_eq!(error.errors()[0].name(), Some("flusher"));
//! });
//! ```
//!
//! **Cleanup panics are entries.** A panic in a `Drop` that runs because a task, a body
//! or a scope's work was cancelled is caught and kept as an entry of the group, next to
//! what caused the cancel: a failure, the group's deadline
//! ([`is_timeout`](crate::GroupError::is_timeout) stays true), or a cancel by hand
//! ([`is_cancelled`](crate::GroupError::is_cancelled) stays true). The worker survives.
//! This holds whichever wrapper drops the work: a scope inside the cancelled task or
//! body that sees the cancel first hands the panic on to the wrapper of the scope that
//! catches the cancel. A scope that catches its own cancel ([`CancelScope::run`](crate::CancelScope::run),
//! `move_on_*`, `fail_*`) does not swallow such a panic: it goes on unwinding out of
//! the wrapper (the code after it does not run), so the task or body around fails with
//! it and its group reports it, or `block_on` passes it to its caller. A scope's
//! wrapper dropped by hand drops its work there and then, and a panic in that work's
//! `Drop` comes out of the drop.
//!
//! A [`par`](crate::par) call in such cleanup runs in the cancelled scope: it starts
//! nothing, and unwinds with [`par::Cancelled`](crate::par::Cancelled), which ends the
//! cleanup there (the rest of that `Drop` does not run) as cancelled work, like a
//! checkpoint in cleanup under a cancel in Trio: no panic, no entry. Cleanup whose
//! `par` call must run makes it where no cancel stands: keep what it needs outside the
//! cancelled work (borrowed by it, or shared through an `Arc`) and make the call after
//! the scope's wrapper has returned. A `par` call made while a panic (that unwind
//! included) is unwinding, in a `Drop` the unwind runs, could not unwind itself: it
//! does not stop for a cancel, and runs to its end.
//!
//! **The catching scope is decided after cleanup.** If, while a cancelled scope's work
//! is being dropped, a scope further out is cancelled (a `Drop` that cancels it, say),
//! the outer scope catches: the inner scope's wrapper does not return, and the code
//! between the two scopes does not run. The catch never moves to a scope that was not
//! cancelled: if the cleanup shields the inner scope against a cancel from further
//! out, the inner scope catches nothing and the outer one still does. If it shields a
//! scope between the two, nothing around the work is left to drop it: the inner scope
//! ends as cancelled work there (`CancelScope::run` gives `None`, a group an error
//! with [`is_cancelled`](crate::GroupError::is_cancelled), `fail_after` panics saying
//! it has no outcome), and the code after it runs.
//!
//! # Services and parallel work
//!
//! **Isolated children.** A child started with
//! [`start_soon_isolated`](crate::TaskGroup::start_soon_isolated) (as
//! [`net::serve`](crate::net::serve) does per connection, and [`supervise`](fn@crate::supervise)
//! per service) never cancels its siblings when it fails: its error is reported or
//! handled by its supervisor's policy. Cancellation still flows down into it like into
//! any child, and the group still waits for it. A failure a supervisor can no longer
//! handle, because a cancel from outside is tearing it down, is not lost either: it is
//! an entry of the supervisor's `GroupError`, named after the child.
//!
//! **Parallel pieces are children too.** A [`par`](crate::par) call inside a cancelled
//! scope stops handing out pieces. A piece that panics or fails cancels the other pieces
//! of the same call, and the call reports every failure (a `GroupError` for the
//! `try_` forms; the panic resumed on the caller for the others, as rayon does). A par
//! call stopped by a cancelled scope is cancelled work, not a panic: it unwinds with
//! [`par::Cancelled`](crate::par::Cancelled), the `try_` forms too unless pieces of
//! theirs failed (they return those failures, which are not lost to the cancel), and
//! the scope catches it like any other cancelled work. So a group child that passes a
//! `try_` call's outcome on with `?` fails its group only with real failures.
//!
//! # Primitives
//!
//! **Queues, locks and the other primitives in [`sync`](crate::sync) are cancel-safe.**
//! A `get` dropped by a cancel loses no item; a `put` dropped before it completed did
//! not enqueue. A dropped `lock()` or `acquire()` holds nothing. Single socket
//! operations in [`net`](crate::net) are cancel-safe the same way.
//!
//! # Misuse
//!
//! Misuse gets a panic with a message saying what went wrong, never a hang or undefined
//! behaviour: `block_on` called on a runtime thread, one `CancelScope` entered twice, a
//! runtime built with zero workers, runtime features (sleeping, deadlines and timeouts,
//! sockets, `to_thread`) used outside a runtime, and `start_soon` on a group that has
//! exited.
