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
/// Meanwhile a branch that has never suspended inside a cancel scope (a plain
/// `Queue::get`, `sleep`) is as good as dropped: it is not polled, so it cannot take
/// anything, nor win. A branch that has suspended in a scope is still polled: its scope
/// decides what the cancel does to the work in it (and the branch may then win, with
/// what that work gave back). A `select!` first polled while a cancel already stands
/// (reached after a shielded section, say) has no such branch: it is dropped there,
/// before any branch runs, as at any suspension point.
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
                // The branch has suspended inside a cancel scope's wrapper.
                let mut $in = false;
            )+
            ::core::future::poll_fn(|cx| {
                // Under a cancel, only branches whose scopes decide what it does.
                let cancelled = $crate::__select_cancelled();
                $(
                    if !cancelled || $in {
                        if let ::core::task::Poll::Ready(value) =
                            $crate::__select_poll($f.as_mut(), cx, &mut $in)
                        {
                            $out = ::core::option::Option::Some(value);
                            $crate::__select_won(cx);
                            return ::core::task::Poll::Ready(());
                        }
                    }
                )+
                $crate::__select_pending();
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
/// shielded scope, or a group draining its children): a branch that never suspended
/// in a scope is as good as dropped, and is not polled (a `Queue::get` polled then
/// could take an item that nobody would ever see).
#[doc(hidden)]
#[inline]
pub fn __select_cancelled() -> bool {
    crate::cancel::run::cancel_stands()
}

/// Polls one branch of [`select!`], setting `in_scope` once it has suspended inside a
/// cancel scope's wrapper (which decides itself what a cancel does to the work in it,
/// so the branch is safe to poll under a cancel).
#[doc(hidden)]
#[inline]
pub fn __select_poll<F: std::future::Future + ?Sized>(
    branch: std::pin::Pin<&mut F>,
    cx: &mut std::task::Context<'_>,
    in_scope: &mut bool,
) -> std::task::Poll<F::Output> {
    let (poll, inside) = crate::cancel::current::noting_scope(|| branch.poll(cx));
    // For good: a scope the branch suspended in may still be live (kept by the branch
    // while it waits elsewhere), and only the branch's polls drive it.
    *in_scope |= inside;
    poll
}

/// Called by [`select!`] when it returns `Pending`: a select in a branch of another
/// polls only what is safe to poll under a cancel, and so is safe to poll itself.
#[doc(hidden)]
#[inline]
pub fn __select_pending() {
    crate::cancel::current::report_select_suspended();
}

/// Called by [`select!`] when a branch wins: a losing branch that recorded, for the
/// task-tree dump, what the task waits in is dropped, so that record is forgotten.
#[doc(hidden)]
#[inline]
pub fn __select_won(cx: &std::task::Context<'_>) {
    crate::debug::task::forget_wait(cx);
}
