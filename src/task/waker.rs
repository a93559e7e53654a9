//! The hand-written `RawWaker` vtable: a waker is one task reference.

use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use std::task::{RawWaker, RawWakerVTable, Waker};

use super::raw::Header;
use super::state::ToNotified;

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop_waker);

/// A waker that borrows the caller's reference (no count change).
///
/// # Safety
/// The caller holds a reference to the task for as long as the waker lives.
pub(super) unsafe fn borrowed(ptr: NonNull<Header>) -> ManuallyDrop<Waker> {
    let raw = RawWaker::new(ptr.as_ptr() as *const (), &VTABLE);
    // SAFETY: the vtable's functions uphold the `RawWaker` contract for task pointers.
    ManuallyDrop::new(unsafe { Waker::from_raw(raw) })
}

/// The debug words of the task whose waker this is, if it is a task's own waker (not
/// a combinator's or a thread's), for leaf futures to record what the task waits for.
pub(crate) fn debug_of(waker: &Waker) -> Option<&crate::debug::task::TaskDebug> {
    // Only wakers made with this vtable carry a task header, which they keep alive.
    std::ptr::eq(waker.vtable(), &VTABLE).then(|| &header(waker.data()).debug)
}

/// The task's own waker, made from the reference `task` held (no count change).
pub(crate) fn into_waker(task: super::Task) -> Waker {
    let raw = RawWaker::new(task.0.as_ptr() as *const (), &VTABLE);
    std::mem::forget(task);
    // SAFETY: the vtable's functions uphold the `RawWaker` contract for task pointers,
    // and the waker takes over `task`'s reference.
    unsafe { Waker::from_raw(raw) }
}

/// Runs `f` with the task whose own waker `waker` is (lent by the waker's reference,
/// for the call only); `None` for any other waker.
pub(crate) fn with_task<R>(waker: &Waker, f: impl FnOnce(&super::Task) -> R) -> Option<R> {
    if !std::ptr::eq(waker.vtable(), &VTABLE) {
        return None;
    }
    // Not dropped: the reference is the waker's, which outlives the call.
    let task = ManuallyDrop::new(super::Task(ptr(waker.data())));
    Some(f(&task))
}

fn header<'a>(data: *const ()) -> &'a Header {
    // SAFETY: a waker's data pointer is a live task header; the waker holds a reference.
    unsafe { &*(data as *const Header) }
}

fn ptr(data: *const ()) -> NonNull<Header> {
    // SAFETY: waker data pointers come from `NonNull<Header>`.
    unsafe { NonNull::new_unchecked(data as *mut Header) }
}

unsafe fn clone(data: *const ()) -> RawWaker {
    header(data).state.ref_inc();
    RawWaker::new(data, &VTABLE)
}

unsafe fn wake(data: *const ()) {
    let header = header(data);
    match header.state.transition_to_notified_by_val() {
        // SAFETY: the waker's own reference becomes the notified one.
        ToNotified::Submit => unsafe { (header.vtable.schedule)(ptr(data)) },
        // SAFETY: the waker's reference is released.
        ToNotified::DoNothing => unsafe { super::drop_ref(ptr(data)) },
    }
}

unsafe fn wake_by_ref(data: *const ()) {
    let header = header(data);
    if header.state.transition_to_notified_by_ref() == ToNotified::Submit {
        // SAFETY: the transition took a new reference for the queue.
        unsafe { (header.vtable.schedule)(ptr(data)) };
    }
}

unsafe fn drop_waker(data: *const ()) {
    // SAFETY: the waker's reference is released.
    unsafe { super::drop_ref(ptr(data)) };
}
