//! Retry waits in real time, for conditions the kernel announces no event for.

use std::time::Duration;

use crate::ToThread;

/// Waits between retries that double from `first` up to `max`, each a real-time sleep
/// on the blocking pool. They wait for the kernel, not for the runtime's clock: a mock
/// clock would never end them, an autojump clock would jump over them, and a pool call
/// in flight keeps the runtime from counting as idle meanwhile.
#[derive(Debug)]
pub(crate) struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    pub(crate) const fn new(first: Duration, max: Duration) -> Backoff {
        Backoff { next: first, max }
    }

    /// The next wait: as long as the last one doubled, at most `max`.
    pub(crate) fn wait(&mut self) -> ToThread<()> {
        let wait = self.next;
        self.next = (wait * 2).min(self.max);
        crate::to_thread(move || std::thread::sleep(wait))
    }
}
