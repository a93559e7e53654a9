//! `select!`: wait for the first of several futures of different types.

/// Waits on several futures at once, runs the branch of the first one to finish, and
/// drops the others.
///
/// Each branch is `pattern = future => handler`, separated by commas (a handler
/// written as a block needs no comma, whatever the next branch's pattern starts with).
/// A handler that starts with a block is taken to end with it, so one that goes on
/// after the block (`{ .. }.to_string()`, `{ .. } + 1`) is a compile error: put it in
/// parentheses (`({ .. }.to_string())`). The futures are created in order, then polled
/// in order every time the select is woken; the first that is ready wins. All the
/// futures are dropped **before** the winner's handler runs, and the value of
/// `select!` is the handler's value. Patterns must be irrefutable (bind the whole
/// output and `match` it in the handler). The handler runs in the enclosing `async`
/// code, so `?`, `return` and `.await` in it act on that code. Use it only inside
/// `async` code. It takes at least 100 branches; many more reach the compiler's limit
/// on macro recursion, which a crate can raise with `#![recursion_limit = "..."]`.
///
/// Branches are polled in the order written, so an earlier branch that is always
/// ready starves later ones: put the rarely ready branch (a shutdown signal) first.
///
/// **Cancel safety.** A losing branch is cancelled, which means dropped. Whatever it
/// had done is kept and whatever it had not finished is lost, exactly as when a cancel
/// scope drops work. pride's single operations are safe to lose: a `Queue::get`,
/// `Event::wait`, a socket `read` or `accept`, `sleep` that loses the race has taken
/// nothing. Compound operations (`read_exact`, `write_all`) may have moved part of
/// their data. Pass `&mut fut` to keep a future alive across several selects
/// (it must be [`Unpin`], e.g. pinned with [`std::pin::pin!`]). The whole `select!`
/// is itself one suspension point: a cancel of an enclosing scope drops every branch.
/// A branch holding work that such a cancel does not drop (a shielded scope, a task
/// group draining its children) keeps the whole `select!` until that work ends.
/// Meanwhile a branch that holds no cancel scope, task group or timeout (one waiting
/// in a plain `Queue::get` or `sleep`, also after the scopes it ran in have ended) is
/// as good as dropped: it is not polled, so it cannot take anything, nor win. A branch
/// that holds a scope (it waits in it, or keeps it while it waits somewhere else) is
/// still polled: its scope decides what the cancel does to the work in it (and the
/// branch may then win, with what that work gave back). A `select!` first polled while
/// a cancel already stands (reached after a shielded section, say) has no such branch:
/// it is dropped there, before any branch runs, as at any suspension point.
///
/// ```
/// use std::time::Duration;
///
/// let rt = pride::Runtime::builder().clock(pride::time::Clock::autojump()).build().unwrap();
/// rt.block_on(async {
///     let queue = pride::Queue::<u32>::unbounded();
///     queue.put_nowait(7).unwrap();
///     let got = pride::select! {
///         item = queue.get() => format!("item {}", item.unwrap()),
///         () = pride::sleep(Duration::from_secs(1)) => "timed out".to_string(),
///     };
///     assert_eq!(got, "item 7");
///
///     // Nothing queued: the sleep wins, and the dropped `get` took nothing.
///     let got = pride::select! {
///         item = queue.get() => Some(item.unwrap()),
///         () = pride::sleep(Duration::from_secs(1)) => None,
///     };
///     assert_eq!(got, None);
/// });
/// ```
///
/// A handler may leave the enclosing function:
///
/// ```
/// # pride::run(async {
/// async fn first(stop: &pride::Event, queue: &pride::Queue<u32>) -> Option<u32> {
///     pride::select! {
///         () = stop.wait() => { return None }
///         item = queue.get() => item.ok(),
///     }
/// }
/// let stop = pride::Event::new();
/// stop.set();
/// assert_eq!(first(&stop, &pride::Queue::unbounded()).await, None);
/// # });
/// ```
///
/// A branch that is not `pattern = future => handler` is a compile error:
///
/// ```compile_fail
/// # pride::run(async {
/// pride::select! {
///     std::future::ready(1) => 1,
/// };
/// # });
/// ```
#[macro_export]
#[doc(alias = "tokio::select")]
macro_rules! select {
    // Each step names the branch's future and output slot with identifiers made in
    // that step, so every branch gets its own pair. A block handler is tried first,
    // with or without its comma: tried as an expression, a block without a comma
    // would take the next branch's pattern along (`{ .. } [a, b]` is an index
    // expression) and fail there, as the `expr` parser cannot step back.
    (@branch [$($done:tt)*] $pat:pat = $future:expr => $handler:block $(, $($rest:tt)*)?) => {
        $crate::select!(@branch [$($done)* (future output in_scope [$pat] [$future] [$handler])] $($($rest)*)?)
    };
    (@branch [$($done:tt)*] $pat:pat = $future:expr => $handler:block $($rest:tt)+) => {
        $crate::select!(@branch [$($done)* (future output in_scope [$pat] [$future] [$handler])] $($rest)+)
    };
    (@branch [$($done:tt)*] $pat:pat = $future:expr => $handler:expr $(, $($rest:tt)*)?) => {
        $crate::select!(@branch [$($done)* (future output in_scope [$pat] [$future] [$handler])] $($($rest)*)?)
    };

    (@branch [$(($f:ident $out:ident $in:ident [$pat:pat] [$future:expr] [$handler:expr]))+]) => {{
        $(let mut $out = ::core::option::Option::None;)+
        {
            $(
                let mut $f = ::core::pin::pin!($future);
                // The cancel scope wrappers the branch holds.
                let mut $in = $crate::__SelectBranch::new();
            )+
            ::core::future::poll_fn(|cx| {
                // Under a cancel, only branches whose scopes decide what it does.
                let cancelled = $crate::__select_cancelled();
                let reported = $crate::__select_reported();
                $(
                    if !cancelled || $in.holds_scope() {
                        if let ::core::task::Poll::Ready(value) =
                            $crate::__select_poll($f.as_mut(), cx, &mut $in)
                        {
                            $out = ::core::option::Option::Some(value);
                            $crate::__select_won(cx, reported);
                            return ::core::task::Poll::Ready(());
                        }
                    }
                )+
                ::core::task::Poll::Pending
            })
            .await;
            // The branch futures are dropped here, before any handler runs.
        }
        // One flat chain, made in this step (a rule called once per branch would
        // nest as deep again as the branches, and run into the recursion limit).
        $(
            if let ::core::option::Option::Some(value) = $out {
                let $pat = value;
                $handler
            } else
        )+ {
            ::core::unreachable!("pride::select!: the winning branch has an output")
        }
    }};

    (@branch [$($done:tt)*] $($bad:tt)+) => {
        ::core::compile_error!("pride::select!: each branch is `pattern = future => handler`")
    };

    ($($branches:tt)+) => {
        $crate::select!(@branch [] $($branches)+)
    };
}

/// Whether a cancel reaches the scope [`select!`] runs in. The select is then still
/// polled only because work in one of its branches is protected from that cancel (a
/// shielded scope, or a group draining its children): a branch that holds no cancel
/// scope's wrapper is as good as dropped, and is not polled (a `Queue::get` polled then
/// could take an item that nobody would ever see).
#[doc(hidden)]
#[inline]
pub fn __select_cancelled() -> bool {
    crate::cancel::run::cancel_stands()
}

/// What one branch of [`select!`] holds: the cancel scope wrappers (scopes, timeouts,
/// task groups) entered in the select's scope that it suspended in for the first time
/// and that have not ended since, and whether it suspended in such a wrapper at its
/// last poll (one it did not take on itself: a future kept across several selects
/// through `&mut`). Such a wrapper decides itself what a cancel does to the work in
/// it, so a branch that holds one is safe to poll under a cancel, and must be: only the
/// branch's polls drive that work, even while the branch waits somewhere else.
#[doc(hidden)]
#[derive(Debug, Default)]
pub struct __SelectBranch {
    taken_on: usize,
    suspended_in_scope: bool,
}

impl __SelectBranch {
    #[doc(hidden)]
    #[inline]
    pub const fn new() -> __SelectBranch {
        __SelectBranch {
            taken_on: 0,
            suspended_in_scope: false,
        }
    }

    /// Whether the branch holds a cancel scope's wrapper, as far as its polls tell.
    #[doc(hidden)]
    #[inline]
    pub fn holds_scope(&self) -> bool {
        self.taken_on > 0 || self.suspended_in_scope
    }
}

/// Polls one branch of [`select!`], counting the cancel scope wrappers it takes on
/// and lets go of (a wrapper starts or ends only in a poll of the branch that holds
/// it).
#[doc(hidden)]
#[inline]
pub fn __select_poll<F: std::future::Future + ?Sized>(
    branch: std::pin::Pin<&mut F>,
    cx: &mut std::task::Context<'_>,
    held: &mut __SelectBranch,
) -> std::task::Poll<F::Output> {
    let (poll, inside, taken_on) = crate::cancel::current::noting_scope(|| branch.poll(cx));
    // A wrapper moved in from elsewhere (through `&mut`) and ended here was never
    // counted here.
    held.taken_on = held.taken_on.saturating_add_signed(taken_on);
    held.suspended_in_scope = inside;
    poll
}

/// What the branches of a select around this one have reported so far in this poll,
/// for [`__select_won`] to put back.
#[doc(hidden)]
#[inline]
pub fn __select_reported() -> bool {
    crate::cancel::current::reported_in_scope()
}

/// Called by [`select!`] when a branch wins: the losing branches are dropped, so what
/// they reported is forgotten, and so is what a losing branch recorded, for the
/// task-tree dump, of what the task waits in.
#[doc(hidden)]
#[inline]
pub fn __select_won(cx: &std::task::Context<'_>, reported: bool) {
    crate::cancel::current::forget_branches(reported);
    crate::debug::task::forget_wait(cx);
}
