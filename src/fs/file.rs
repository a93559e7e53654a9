//! `File`: a `std::fs::File` whose calls run on the blocking pool, one at a time.
//!
//! The file is either idle (held here) or busy (moved into the one call running on the
//! pool, which hands it back with its result). An operation that finds the file busy
//! first waits for the running call. A call whose caller has gone is still completed
//! and its result kept: bytes read become `read_ahead`, a failed write's error is
//! reported by the next operation.

use std::future::Future;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use crate::ToThread;

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
/// reports its error. Dropping a `File` with a write in flight still completes that write, but
/// its error is lost: flush first.
///
/// **Cancel safety.** A read or write dropped while its call runs is not lost: the
/// next operation waits for the call, and bytes it read are returned by the next read.
/// A call that uses or moves the position (a read, write or seek) first moves the OS
/// position back over such bytes, so that it acts where the reader is; calls that
/// ignore the position (`metadata`, `sync_all`, `set_len`) leave the bytes in place. On
/// a file that cannot seek (a pipe, a FIFO) that move fails: the call fails with the
/// seek's error and the bytes stay for the next read.
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
    /// The call in flight is a write (already reported done to its caller): a drop of
    /// the `File` lets it finish. Any other call in flight is cancelled by the drop.
    writing: bool,
}

enum State {
    /// `None` only while a call is being started.
    Idle(Option<std::fs::File>),
    Busy(ToThread<(std::fs::File, Done)>),
}

/// What a call on the pool did.
enum Done {
    Read(io::Result<Vec<u8>>),
    Write(io::Result<()>),
    Seek(SeekFrom, io::Result<u64>),
    Sync(io::Result<()>),
    SetLen(u64, io::Result<()>),
    Metadata(io::Result<std::fs::Metadata>),
    /// Nothing but the skip back over read-ahead bytes ran (for `into_std`).
    Settled,
    /// Skipping back over read-ahead bytes failed; the call did not run. The bytes come
    /// back with the error, for the next read.
    Rewind(io::Error, Vec<u8>),
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
        File {
            state: State::Idle(Some(file)),
            read_ahead: Vec::new(),
            error: None,
            writing: false,
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
            std::future::poll_fn(|cx| {
                self.poll_call(
                    cx,
                    Position::Used,
                    |done| matches!(done, Done::Settled),
                    |_| Done::Settled,
                )
            })
            .await?;
        }
        Ok(self.take_file())
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
        let done = std::future::poll_fn(|cx| {
            self.poll_call(
                cx,
                Position::Ignored,
                |done| matches!(done, Done::Metadata(_)),
                |file| Done::Metadata(file.metadata()),
            )
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
        std::future::poll_fn(|cx| {
            self.poll_call(
                cx,
                Position::Ignored,
                |done| matches!(done, Done::Sync(_)),
                |file| Done::Sync(file.sync_all()),
            )
        })
        .await
        .map(|_| ())
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
        std::future::poll_fn(|cx| {
            self.poll_call(
                cx,
                Position::Ignored,
                |done| matches!(done, Done::SetLen(s, _) if *s == size),
                move |file| Done::SetLen(size, file.set_len(size)),
            )
        })
        .await
        .map(|_| ())
    }

    fn take_file(&mut self) -> std::fs::File {
        match &mut self.state {
            State::Idle(file) => file.take().expect("an idle File holds its file"),
            State::Busy(_) => unreachable!("taken only when idle"),
        }
    }

    /// Completes the call in flight. Returns it if `wanted` says it is the result the
    /// caller waits for; otherwise keeps what matters of it and returns `None` once the
    /// file is idle.
    fn poll_idle(
        &mut self,
        cx: &mut Context<'_>,
        wanted: impl Fn(&Done) -> bool,
    ) -> Poll<Option<Done>> {
        let State::Busy(call) = &mut self.state else {
            return Poll::Ready(None);
        };
        let (file, done) = ready!(Pin::new(call).poll(cx));
        self.state = State::Idle(Some(file));
        self.writing = false;
        if wanted(&done) {
            return Poll::Ready(Some(done));
        }
        match done {
            Done::Read(Ok(bytes)) => self.read_ahead = bytes,
            Done::Read(Err(e))
            | Done::Write(Err(e))
            | Done::Sync(Err(e))
            | Done::SetLen(_, Err(e))
            | Done::Seek(_, Err(e)) => self.error = Some(e),
            Done::Rewind(e, read_ahead) => {
                self.read_ahead = read_ahead;
                self.error = Some(e);
            }
            Done::Write(Ok(())) | Done::Sync(Ok(())) | Done::SetLen(_, Ok(())) => {}
            Done::Seek(_, Ok(_)) | Done::Metadata(_) | Done::Settled => {}
        }
        Poll::Ready(None)
    }

    /// Completes the call in flight, keeping what matters of its result.
    fn poll_settled(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.poll_idle(cx, |_| false).map(|_| ())
    }

    /// Starts `call` on the pool with the file. If it uses the position, the read-ahead
    /// bytes go with it: the pool skips back over them first, so that the OS position
    /// is the reader's, and drops them once that succeeded; if it fails, `call` does not
    /// run and the bytes come back with the error (`Done::Rewind`).
    fn start(
        &mut self,
        position: Position,
        call: impl FnOnce(&mut std::fs::File) -> Done + Send + 'static,
    ) {
        let mut file = self.take_file();
        let read_ahead = match position {
            Position::Used => std::mem::take(&mut self.read_ahead),
            Position::Ignored => Vec::new(),
        };
        self.state = State::Busy(crate::to_thread(move || {
            if !read_ahead.is_empty() {
                if let Err(e) = file.seek(SeekFrom::Current(-(read_ahead.len() as i64))) {
                    return (file, Done::Rewind(e, read_ahead));
                }
            }
            let done = call(&mut file);
            (file, done)
        }));
    }

    /// Waits until idle; reports a kept error; otherwise starts `call` and waits for
    /// the result `wanted` accepts.
    fn poll_call(
        &mut self,
        cx: &mut Context<'_>,
        position: Position,
        wanted: impl Fn(&Done) -> bool,
        call: impl FnOnce(&mut std::fs::File) -> Done + Send + 'static,
    ) -> Poll<io::Result<Done>> {
        let mut call = Some(call);
        loop {
            if let Some(done) = ready!(self.poll_idle(cx, &wanted)) {
                return Poll::Ready(Ok(done));
            }
            if let Some(error) = self.error.take() {
                return Poll::Ready(Err(error));
            }
            match call.take() {
                Some(call) => self.start(position, call),
                // Our own call ends in the wanted result or in a kept error.
                None => unreachable!("a started call ends in its own result or an error"),
            }
        }
    }
}

impl Drop for File {
    fn drop(&mut self) {
        // A buffered write in flight runs to its end (its caller was told it was done);
        // only its error is lost. Any other call in flight (a read, a seek, whose
        // caller is gone) is dropped like any pool call: cancelled if still queued.
        if let State::Busy(call) = std::mem::replace(&mut self.state, State::Idle(None)) {
            if self.writing {
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
            // A read dropped earlier may have finished: its bytes come first. An empty
            // result is the end of the file, returned as such.
            this.read_ahead = match ready!(this.poll_idle(cx, |d| matches!(d, Done::Read(Ok(_))))) {
                Some(Done::Read(Ok(bytes))) => bytes,
                _ => {
                    let len = buf.len().min(MAX_CHUNK);
                    let done = ready!(this.poll_call(
                        cx,
                        Position::Used,
                        |d| matches!(d, Done::Read(_)),
                        move |file| {
                            let mut bytes = vec![0; len];
                            Done::Read(file.read(&mut bytes).map(|n| {
                                bytes.truncate(n);
                                bytes
                            }))
                        },
                    ));
                    result_of(done, |d| match d {
                        Done::Read(r) => r,
                        _ => unreachable!("only a read is wanted"),
                    })?
                }
            };
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
        this.start(Position::Used, move |file| {
            Done::Write(file.write_all(&bytes))
        });
        this.writing = true;
        // Polled once, the call is on the pool's queue: it runs now, not at the next
        // operation, and the `File`'s drop cannot lose it. If it is already done, its
        // error waits for the next operation like any buffered write's.
        let _ = this.poll_settled(cx);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_settled(cx));
        match this.error.take() {
            Some(error) => Poll::Ready(Err(error)),
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
        let done = ready!(this.poll_call(
            cx,
            Position::Used,
            |d| matches!(d, Done::Seek(p, _) if *p == pos),
            move |file| Done::Seek(pos, file.seek(pos)),
        ));
        Poll::Ready(result_of(done, |d| match d {
            Done::Seek(_, r) => r,
            _ => unreachable!("only this kind of call is wanted"),
        }))
    }
}

impl std::fmt::Debug for File {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("File")
            .field("busy", &matches!(self.state, State::Busy(_)))
            .finish_non_exhaustive()
    }
}
