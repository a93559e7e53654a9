//! `File`: a `std::fs::File` whose calls run on the blocking pool, one at a time.
//!
//! The file is either idle (held here) or busy (moved into the one call running on the
//! pool, which hands it back with its result). Calls are numbered; each operation
//! remembers the number of the call it started, and takes a finished call's result
//! only if the number is its own. An operation that finds the file busy with another
//! call (one whose caller has gone) first waits for it and keeps what it left (see
//! `File::keep`): bytes read become `read_ahead`, an error is reported by the next
//! operation; then it starts its own call.
//!
//! Two tasks may wait for the call in flight at once (the halves of a split `File`),
//! but the pool's future wakes only the task that polled it last. So the `File` keeps
//! every waiting task's waker (`Waiters`) and polls the call with a waker of its own
//! that wakes them all.

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker, ready};

use parking_lot::Mutex;

use crate::ToThread;
use crate::debug::task::WaitOn;
use crate::runtime::NotRun;
use crate::sync::waiters::WakeList;

/// The most bytes one read or write moves to or from the pool.
const MAX_CHUNK: usize = 2 * 1024 * 1024;

/// An open file with [`futures_io::AsyncRead`], [`AsyncWrite`](futures_io::AsyncWrite)
/// and [`AsyncSeek`](futures_io::AsyncSeek) (use them through
/// `futures_lite::{AsyncReadExt, AsyncWriteExt, AsyncSeekExt}`).
///
/// Each read, write or seek runs on the blocking pool. Writes are buffered: `write`
/// copies the bytes and returns at once while the pool writes them, so the error of a
/// failed write comes back from the next operation; `flush` or `close`
/// ([`poll_flush`](futures_io::AsyncWrite::poll_flush),
/// [`poll_close`](futures_io::AsyncWrite::poll_close)) waits for every write and
/// reports its error.
///
/// Dropping a `File` lets a call in flight that changes the file (a write, a seek,
/// [`set_len`](File::set_len), [`sync_all`](File::sync_all)) run to its end, even if
/// it is still queued; only its error is lost: flush first. A read or
/// [`metadata`](File::metadata) call still queued is cancelled instead, since nobody
/// is left to take what it returns (a read would take bytes from a pipe for nobody).
/// The runtime's drop waits for such a call, however long it blocks (a write to a
/// pipe nobody reads, say); a `File` dropped after its runtime's drop still lets the
/// call run, but nothing waits for it then. Flush a `File` to see its
/// errors, and [`sync_all`](File::sync_all) it for the bytes to reach the disk.
///
/// A read or `metadata` call still queued when its runtime's drop begins never runs,
/// nor does any call made once that drop has begun, and the standard file went into
/// that call: the `File` is closed. The operation waiting for the call (polled on
/// another runtime, say), and every later one, `flush` and `close` included, fails
/// with an [`io::Error`] that says so.
///
/// **Cancel safety.** An operation polled once has started its call on the pool (if
/// another call was in flight, once that one has ended and the operation was polled
/// again), and the call runs to its end even if the operation is dropped; the next
/// operation waits
/// for it first, and then runs its own call: it never returns the dropped call's
/// result. What a dropped call leaves behind:
/// - a read: the bytes it read are returned by the next read;
/// - a write (already reported done to its caller): the bytes are written;
/// - a [`seek`](File::seek): the position has moved (a later relative seek counts
///   from there);
/// - [`set_len`](File::set_len), [`sync_all`](File::sync_all): done;
/// - [`metadata`](File::metadata): nothing;
/// - an error any of them but `metadata` met is returned by the next operation.
///
/// A call that uses or moves the position (a read, write or seek) first moves the OS
/// position back over bytes read ahead this way, so that it acts where the reader is;
/// calls that ignore the position (`metadata`, `sync_all`, `set_len`) leave the bytes
/// in place. On a file that cannot seek (a pipe, a FIFO) that move fails: the call
/// fails with the seek's error and the bytes stay for the next read.
///
/// Reads and seeks through the traits' poll functions keep no state per call: a
/// [`poll_read`](futures_io::AsyncRead::poll_read) takes any read in flight as its own
/// (which is how a dropped read's bytes reach the next read), and a
/// [`poll_seek`](futures_io::AsyncSeek::poll_seek) takes a seek to the same position
/// that an earlier `poll_seek` started as its own, as it must when it is polled again.
/// After dropping a seek started that way, seek with [`File::seek`] (which
/// `file.seek(..)` calls even with `AsyncSeekExt` in scope), whose future knows its
/// own call.
///
/// **Reading and writing at once.** Two tasks may use one `File` at once, such as the
/// read and write halves of `futures_lite::io::split`: every task waiting for the
/// call in flight is woken when it ends. The calls still run one at a time, on the one
/// position that reads and writes share, and a read and a write act whole, as if one
/// task had made them one after the other, in either order. A read counts as done only
/// once `poll_read` has returned its bytes: a write or seek that starts before then
/// goes first, where the reader is (the position moves back over the bytes the read
/// fetched, as over any read-ahead), and the read is made again after it. So either
/// the read returns what the file held and the write lands after those bytes, or the
/// write lands where the reader was and the read returns the bytes that follow it. On
/// a file that cannot seek the move back fails: the write fails and the bytes stay for
/// the reader. The error of a buffered write comes back from the next operation, which
/// may be the other task's (the reader's read), not the writer's `flush`. A seek
/// relative to the current position may count from where the other task's call left
/// it: with two tasks on one `File`, seek to absolute positions. A read that waits for
/// data (a pipe, a FIFO) holds back every other call
/// until it ends: for a stream read and written at once, use a socket of
/// [`net`](crate::net) or a child's pipes ([`process`](crate::process)), which wait in
/// the reactor.
///
/// ```
/// use futures_lite::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
/// use std::io::SeekFrom;
///
/// # pride::run(async {
/// let path = std::env::temp_dir().join(format!("pride-file-doc-{}", std::process::id()));
/// let mut options = std::fs::OpenOptions::new();
/// options.read(true).write(true).create(true).truncate(true);
/// let mut file = pride::fs::File::open_with(&path, &options).await?;
/// file.write_all(b"hello, world").await?;
/// file.seek(SeekFrom::Start(7)).await?;
/// let mut rest = String::new();
/// file.read_to_string(&mut rest).await?;
/// assert_eq!(rest, "world");
/// file.flush().await?;
/// # pride::fs::remove_file(&path).await?;
/// # Ok::<_, std::io::Error>(()) }).unwrap();
/// ```
pub struct File {
    state: State,
    /// Bytes a finished read fetched beyond what its caller took; the OS position is
    /// past them. Served first by the next read; skipped back over before a call that
    /// uses the position (see `Position`).
    read_ahead: Vec<u8>,
    /// The error of a call whose caller did not see it (a buffered write).
    error: Option<io::Error>,
    /// The tasks waiting for the call in flight.
    waiters: Arc<Waiters>,
    /// Wakes `waiters`: the waker the call in flight is polled with.
    waker: Waker,
    /// The number of the last call started (see [`Call`]).
    started: Call,
    /// The read `poll_read` started last: any later `poll_read` takes it as its own.
    polled_read: Option<Call>,
    /// The seek `poll_seek` started last, and its position: a later `poll_seek` to the
    /// same position takes it as its own.
    polled_seek: Option<(Call, SeekFrom)>,
}

/// The number of a call started on the pool; numbers are never reused, so an
/// operation's own number can only match the call it started.
type Call = u64;

enum State {
    /// `None` only while a call is being started.
    Idle(Option<std::fs::File>),
    Busy(Call, OnDrop, ToThread<(std::fs::File, Done)>),
    /// The file went with a call that never ran: the runtime's drop began while it was
    /// queued (or before it could be queued). Every operation fails with [`closed`].
    Closed,
}

/// The error of an operation on a `File` whose file went with a call that never ran.
fn closed() -> io::Error {
    io::Error::other(
        "the runtime was dropped before a call of this File ran on its blocking pool; \
         the file went with that call and is closed",
    )
}

/// What a drop of the `File` does with the call in flight.
#[derive(Clone, Copy, PartialEq, Eq)]
enum OnDrop {
    /// A write, seek, `set_len` or `sync_all`: it changes the file (or its position),
    /// which its caller may already count on (a write is reported done when it
    /// starts): it runs to its end, queued or not.
    Finish,
    /// A read, `metadata`, or `into_std`'s move back over read-ahead bytes: only its
    /// caller could use what it does, so it is cancelled if still queued.
    Cancel,
}

/// The wakers of the tasks waiting for a `File`'s call in flight, each once. As a
/// waker (the one the call is polled with), wakes them all.
#[derive(Default)]
struct Waiters(Mutex<Vec<Waker>>);

impl Waiters {
    fn register(&self, waker: &Waker) {
        let mut wakers = self.0.lock();
        if !wakers.iter().any(|w| w.will_wake(waker)) {
            wakers.push(waker.clone());
        }
    }
}

impl Wake for Waiters {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let mut list = WakeList::new();
        for waker in std::mem::take(&mut *self.0.lock()) {
            list.push(waker);
        }
        list.wake();
    }
}

/// What a call on the pool did.
enum Done {
    Read(io::Result<Vec<u8>>),
    Write(io::Result<()>),
    Seek(io::Result<u64>),
    Sync(io::Result<()>),
    SetLen(io::Result<()>),
    Metadata(io::Result<std::fs::Metadata>),
    /// Nothing but the skip back over read-ahead bytes ran (for `into_std`).
    Settled,
    /// Skipping back over read-ahead bytes failed; the call did not run. The bytes come
    /// back with the error, for the next read.
    Rewind(io::Error, Vec<u8>),
    /// The call never ran, and the file went with it (see [`State::Closed`]).
    NotRun,
}

/// Whether a call uses or moves the file's position.
#[derive(Clone, Copy)]
enum Position {
    /// A read, write or seek: the OS position must first be the reader's, so read-ahead
    /// bytes are skipped back over before it runs.
    Used,
    /// `metadata`, `sync_all`, `set_len`: the read-ahead stays as it is.
    Ignored,
}

impl File {
    /// Opens a file for reading, like [`std::fs::File::open`].
    ///
    /// ```
    /// # pride::run(async {
    /// assert!(pride::fs::File::open("/no/such/pride/file").await.is_err());
    /// # });
    /// ```
    pub async fn open(path: impl AsRef<Path>) -> io::Result<File> {
        let file = super::with_path(path, std::fs::File::open).await?;
        Ok(File::from_std(file))
    }

    /// Opens a file for writing, creating it or truncating it, like
    /// [`std::fs::File::create`].
    ///
    /// ```
    /// # pride::run(async {
    /// let path = std::env::temp_dir().join(format!("pride-create-doc-{}", std::process::id()));
    /// let mut file = pride::fs::File::create(&path).await?;
    /// assert_eq!(file.metadata().await?.len(), 0);
    /// # pride::fs::remove_file(&path).await?;
    /// # Ok::<_, std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn create(path: impl AsRef<Path>) -> io::Result<File> {
        let file = super::with_path(path, std::fs::File::create).await?;
        Ok(File::from_std(file))
    }

    /// Opens a file with the given options (append, create-new, read and write, ...).
    ///
    /// ```
    /// use futures_lite::AsyncWriteExt;
    ///
    /// # pride::run(async {
    /// let path = std::env::temp_dir().join(format!("pride-open-with-doc-{}", std::process::id()));
    /// pride::fs::write(&path, "a").await?;
    /// let mut options = std::fs::OpenOptions::new();
    /// options.append(true);
    /// let mut file = pride::fs::File::open_with(&path, &options).await?;
    /// file.write_all(b"b").await?;
    /// file.close().await?;
    /// assert_eq!(pride::fs::read_to_string(&path).await?, "ab");
    /// # pride::fs::remove_file(&path).await?;
    /// # Ok::<_, std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn open_with(
        path: impl AsRef<Path>,
        options: &std::fs::OpenOptions,
    ) -> io::Result<File> {
        let options = options.clone();
        let file = super::with_path(path, move |path| options.open(path)).await?;
        Ok(File::from_std(file))
    }

    /// Wraps an open standard file.
    ///
    /// ```
    /// # pride::run(async {
    /// let std_file = std::fs::File::open(".")?;
    /// let mut file = pride::fs::File::from_std(std_file);
    /// assert!(file.metadata().await?.is_dir());
    /// # Ok::<_, std::io::Error>(()) }).unwrap();
    /// ```
    pub fn from_std(file: std::fs::File) -> File {
        let waiters = Arc::new(Waiters::default());
        File {
            state: State::Idle(Some(file)),
            read_ahead: Vec::new(),
            error: None,
            waker: Waker::from(waiters.clone()),
            waiters,
            started: 0,
            polled_read: None,
            polled_seek: None,
        }
    }

    /// Waits for the call in flight, if any, and returns the standard file, positioned
    /// where this `File`'s reader would read next. An error kept from an earlier
    /// buffered write is returned instead (and the file is closed).
    ///
    /// Bytes a dropped read fetched beyond the reader's position are given back by
    /// moving the position back over them. A file that cannot seek (a pipe, a FIFO)
    /// cannot take them back: if it holds such bytes, `into_std` fails with the seek's
    /// error and the file is closed; read them first.
    ///
    /// ```
    /// use futures_lite::AsyncWriteExt;
    ///
    /// # pride::run(async {
    /// let path = std::env::temp_dir().join(format!("pride-into-std-doc-{}", std::process::id()));
    /// let mut file = pride::fs::File::create(&path).await?;
    /// file.write_all(b"abc").await?;
    /// let std_file = file.into_std().await?;
    /// assert_eq!(std_file.metadata()?.len(), 3);
    /// # pride::fs::remove_file(&path).await?;
    /// # Ok::<_, std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn into_std(mut self) -> io::Result<std::fs::File> {
        std::future::poll_fn(|cx| self.poll_settled(cx)).await;
        if let Some(error) = self.error.take() {
            return Err(error);
        }
        if !self.read_ahead.is_empty() {
            let mut mine = None;
            std::future::poll_fn(|cx| {
                self.poll_call(cx, &mut mine, Position::Used, OnDrop::Cancel, |_| {
                    Done::Settled
                })
            })
            .await?;
        }
        self.take_file()
    }

    /// The file's metadata, like [`std::fs::File::metadata`]; waits for the call in
    /// flight first.
    ///
    /// ```
    /// # pride::run(async {
    /// let mut file = pride::fs::File::open(".").await?;
    /// assert!(file.metadata().await?.is_dir());
    /// # Ok::<_, std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn metadata(&mut self) -> io::Result<std::fs::Metadata> {
        let mut mine = None;
        let done = std::future::poll_fn(|cx| {
            self.poll_call(cx, &mut mine, Position::Ignored, OnDrop::Cancel, |file| {
                Done::Metadata(file.metadata())
            })
        })
        .await;
        result_of(done, |d| match d {
            Done::Metadata(r) => r,
            _ => unreachable!("a metadata call ends in metadata"),
        })
    }

    /// Waits for every write, then flushes data and metadata to the device, like
    /// [`std::fs::File::sync_all`].
    ///
    /// ```
    /// use futures_lite::AsyncWriteExt;
    ///
    /// # pride::run(async {
    /// let path = std::env::temp_dir().join(format!("pride-sync-doc-{}", std::process::id()));
    /// let mut file = pride::fs::File::create(&path).await?;
    /// file.write_all(b"durable").await?;
    /// file.sync_all().await?;
    /// # pride::fs::remove_file(&path).await?;
    /// # Ok::<_, std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn sync_all(&mut self) -> io::Result<()> {
        let mut mine = None;
        let done = std::future::poll_fn(|cx| {
            self.poll_call(cx, &mut mine, Position::Ignored, OnDrop::Finish, |file| {
                Done::Sync(file.sync_all())
            })
        })
        .await;
        result_of(done, |d| match d {
            Done::Sync(r) => r,
            _ => unreachable!("a sync call ends in a sync"),
        })
    }

    /// Truncates or extends the file to `size` bytes, like [`std::fs::File::set_len`].
    /// The position does not move.
    ///
    /// ```
    /// # pride::run(async {
    /// let path = std::env::temp_dir().join(format!("pride-set-len-doc-{}", std::process::id()));
    /// let mut file = pride::fs::File::create(&path).await?;
    /// file.set_len(10).await?;
    /// assert_eq!(file.metadata().await?.len(), 10);
    /// # pride::fs::remove_file(&path).await?;
    /// # Ok::<_, std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn set_len(&mut self, size: u64) -> io::Result<()> {
        let mut mine = None;
        let done = std::future::poll_fn(|cx| {
            self.poll_call(
                cx,
                &mut mine,
                Position::Ignored,
                OnDrop::Finish,
                move |file| Done::SetLen(file.set_len(size)),
            )
        })
        .await;
        result_of(done, |d| match d {
            Done::SetLen(r) => r,
            _ => unreachable!("a set_len call ends in a set_len"),
        })
    }

    /// Moves the position, like [`std::io::Seek::seek`]; returns the new position
    /// from the start of the file. Waits for the call in flight first.
    ///
    /// This is what `file.seek(pos)` calls, also with `futures_lite::AsyncSeekExt` in
    /// scope. Unlike a seek through [`AsyncSeek`](futures_io::AsyncSeek), its future
    /// knows the call it started: dropped after its first poll, the seek still moves
    /// the position, and the next seek starts from there and returns its own result.
    ///
    /// ```
    /// use futures_lite::AsyncWriteExt;
    /// use std::io::SeekFrom;
    ///
    /// # pride::run(async {
    /// let path = std::env::temp_dir().join(format!("pride-seek-doc-{}", std::process::id()));
    /// let mut file = pride::fs::File::create(&path).await?;
    /// file.write_all(b"hello").await?;
    /// assert_eq!(file.seek(SeekFrom::End(-2)).await?, 3);
    /// assert_eq!(file.seek(SeekFrom::Current(1)).await?, 4);
    /// # pride::fs::remove_file(&path).await?;
    /// # Ok::<_, std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let mut mine = None;
        std::future::poll_fn(|cx| self.poll_seek_as(cx, &mut mine, pos)).await
    }

    /// A seek to `pos` whose caller started the call numbered `mine`, if any.
    fn poll_seek_as(
        &mut self,
        cx: &mut Context<'_>,
        mine: &mut Option<Call>,
        pos: SeekFrom,
    ) -> Poll<io::Result<u64>> {
        let done = ready!(
            self.poll_call(cx, mine, Position::Used, OnDrop::Finish, move |file| {
                Done::Seek(file.seek(pos))
            })
        );
        Poll::Ready(result_of(done, |d| match d {
            Done::Seek(r) => r,
            _ => unreachable!("a seek call ends in a seek"),
        }))
    }

    /// The file, to move into a call; fails once a call that never ran took it away.
    fn take_file(&mut self) -> io::Result<std::fs::File> {
        match &mut self.state {
            State::Idle(file) => Ok(file.take().expect("an idle File holds its file")),
            State::Closed => Err(closed()),
            State::Busy(..) => unreachable!("taken only when idle"),
        }
    }

    /// Completes the call in flight, if any: the file is idle once this is ready.
    /// Returns the call's number and result. Pending, the task is woken when the call
    /// ends, as is every other task waiting for it.
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<Option<(Call, Done)>> {
        let State::Busy(number, _, call) = &mut self.state else {
            return Poll::Ready(None);
        };
        let number = *number;
        // Before the poll: a call that ends in between finds this task's waker.
        self.waiters.register(cx.waker());
        let polled = call.poll_ran(&mut Context::from_waker(&self.waker));
        // The waker stays registered: the call's end wakes every waker it finds, and
        // another future of this task (the other half, polled in the same `join`) may
        // share it and still wait. At worst a task is woken once more than needed.
        match ready!(crate::debug::task::noting(polled, cx, WaitOn::Thread)) {
            Ok((file, done)) => {
                self.state = State::Idle(Some(file));
                Poll::Ready(Some((number, done)))
            }
            Err(NotRun) => {
                self.state = State::Closed;
                Poll::Ready(Some((number, Done::NotRun)))
            }
        }
    }

    /// Keeps what a call whose caller is gone left: the bytes it read become the
    /// read-ahead, its error is kept for the next operation.
    fn keep(&mut self, done: Done) {
        match done {
            Done::Read(Ok(bytes)) => self.read_ahead = bytes,
            Done::Read(Err(e))
            | Done::Write(Err(e))
            | Done::Sync(Err(e))
            | Done::SetLen(Err(e))
            | Done::Seek(Err(e)) => self.error = Some(e),
            Done::Rewind(e, read_ahead) => {
                self.read_ahead = read_ahead;
                self.error = Some(e);
            }
            // A buffered write that never ran is an error for the next operation (a
            // flush) to report; later ones find the file closed.
            Done::NotRun => self.error = Some(closed()),
            Done::Write(Ok(())) | Done::Sync(Ok(())) | Done::SetLen(Ok(())) => {}
            Done::Seek(Ok(_)) | Done::Metadata(_) | Done::Settled => {}
        }
    }

    /// Completes the call in flight, keeping what it left.
    fn poll_settled(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if let Some((_, done)) = ready!(self.poll_idle(cx)) {
            self.keep(done);
        }
        Poll::Ready(())
    }

    /// Starts `call` on the pool with the file. If it uses the position, the read-ahead
    /// bytes go with it: the pool skips back over them first, so that the OS position
    /// is the reader's, and drops them once that succeeded; if it fails, `call` does not
    /// run and the bytes come back with the error (`Done::Rewind`).
    fn start(
        &mut self,
        position: Position,
        on_drop: OnDrop,
        call: impl FnOnce(&mut std::fs::File) -> Done + Send + 'static,
    ) -> io::Result<Call> {
        let mut file = self.take_file()?;
        let read_ahead = match position {
            Position::Used => std::mem::take(&mut self.read_ahead),
            Position::Ignored => Vec::new(),
        };
        self.started += 1;
        let work = move || {
            if !read_ahead.is_empty() {
                if let Err(e) = file.seek(SeekFrom::Current(-(read_ahead.len() as i64))) {
                    return (file, Done::Rewind(e, read_ahead));
                }
            }
            let done = call(&mut file);
            (file, done)
        };
        // A call that changes the file runs once started, even if the runtime's drop
        // begins meanwhile, and the drop waits for it.
        let call = match on_drop {
            OnDrop::Finish => crate::runtime::to_thread_kept(work),
            OnDrop::Cancel => crate::to_thread(work),
        };
        self.state = State::Busy(self.started, on_drop, call);
        Ok(self.started)
    }

    /// One operation: `mine` is the number of the call it started, if it did. Waits
    /// for the call in flight: if it is `mine`, returns its result; otherwise keeps
    /// what it left, reports a kept error, or starts `call` (setting `mine`) and waits
    /// for it.
    fn poll_call(
        &mut self,
        cx: &mut Context<'_>,
        mine: &mut Option<Call>,
        position: Position,
        on_drop: OnDrop,
        call: impl FnOnce(&mut std::fs::File) -> Done + Send + 'static,
    ) -> Poll<io::Result<Done>> {
        let mut call = Some(call);
        loop {
            match ready!(self.poll_idle(cx)) {
                Some((number, done)) if Some(number) == *mine => {
                    *mine = None;
                    return Poll::Ready(match done {
                        // Our call did not run: the bytes stay for the next read.
                        Done::Rewind(e, read_ahead) => {
                            self.read_ahead = read_ahead;
                            Err(e)
                        }
                        Done::NotRun => Err(closed()),
                        done => Ok(done),
                    });
                }
                Some((_, done)) => self.keep(done),
                None => {}
            }
            if let Some(error) = self.error.take() {
                return Poll::Ready(Err(error));
            }
            match call.take() {
                Some(call) => match self.start(position, on_drop, call) {
                    Ok(number) => *mine = Some(number),
                    Err(error) => return Poll::Ready(Err(error)),
                },
                None => unreachable!("a started call is waited for until it ends"),
            }
        }
    }
}

impl Drop for File {
    fn drop(&mut self) {
        // A call that changes the file runs to its end (a write's caller was told it
        // was done; a set_len polled once was promised to run); only its error is
        // lost. A read or metadata call is dropped like any pool call: cancelled if
        // still queued.
        if let State::Busy(_, on_drop, call) = std::mem::replace(&mut self.state, State::Idle(None))
        {
            if on_drop == OnDrop::Finish {
                call.detach();
            }
        }
    }
}

fn result_of<T>(done: io::Result<Done>, pick: impl FnOnce(Done) -> io::Result<T>) -> io::Result<T> {
    pick(done?)
}

impl futures_io::AsyncRead for File {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if this.read_ahead.is_empty() {
            // Any read is this one's, a read dropped earlier too: its bytes come first.
            // An empty result is the end of the file, returned as such.
            let len = buf.len().min(MAX_CHUNK);
            let mut mine = this.polled_read.take();
            let done = this.poll_call(cx, &mut mine, Position::Used, OnDrop::Cancel, move |file| {
                let mut bytes = vec![0; len];
                Done::Read(file.read(&mut bytes).map(|n| {
                    bytes.truncate(n);
                    bytes
                }))
            });
            this.polled_read = mine;
            this.read_ahead = result_of(ready!(done), |d| match d {
                Done::Read(r) => r,
                _ => unreachable!("a read call ends in a read"),
            })?;
        }
        let n = this.read_ahead.len().min(buf.len());
        buf[..n].copy_from_slice(&this.read_ahead[..n]);
        this.read_ahead.drain(..n);
        Poll::Ready(Ok(n))
    }
}

impl futures_io::AsyncWrite for File {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_settled(cx));
        if let Some(error) = this.error.take() {
            return Poll::Ready(Err(error));
        }
        let bytes = buf[..buf.len().min(MAX_CHUNK)].to_vec();
        let n = bytes.len();
        this.start(Position::Used, OnDrop::Finish, move |file| {
            Done::Write(file.write_all(&bytes))
        })?;
        // Polled once, the call is on the pool's queue: it runs now, not at the next
        // operation, and the `File`'s drop cannot lose it. If it is already done, its
        // error waits for the next operation like any buffered write's; but a write the
        // pool refused (its runtime shuts down) never ran, and says so now.
        let _ = this.poll_settled(cx);
        if matches!(this.state, State::Closed) {
            return Poll::Ready(Err(this.error.take().unwrap_or_else(closed)));
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_settled(cx));
        match this.error.take() {
            Some(error) => Poll::Ready(Err(error)),
            // Nothing written through a closed file reached it.
            None if matches!(this.state, State::Closed) => Poll::Ready(Err(closed())),
            None => Poll::Ready(Ok(())),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

impl futures_io::AsyncSeek for File {
    fn poll_seek(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        pos: SeekFrom,
    ) -> Poll<io::Result<u64>> {
        let this = self.get_mut();
        let mut mine = match this.polled_seek.take() {
            Some((call, to)) if to == pos => Some(call),
            _ => None,
        };
        let result = this.poll_seek_as(cx, &mut mine, pos);
        this.polled_seek = mine.map(|call| (call, pos));
        result
    }
}

impl std::fmt::Debug for File {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("File")
            .field("busy", &matches!(self.state, State::Busy(..)))
            .finish_non_exhaustive()
    }
}
