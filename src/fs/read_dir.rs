//! `read_dir`: a directory's entries as a stream, read in batches on the blocking pool.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use super::Op;
use crate::ToThread;
use crate::runtime::NotRun;

/// How many entries one trip to the blocking pool reads.
const BATCH: usize = 32;

/// Opens a directory for listing, like [`std::fs::read_dir`]. The entries come from
/// [`ReadDir::next_entry`] or the [`Stream`](futures_core::Stream) implementation, in
/// no particular order, without `.` and `..`.
///
/// ```
/// use futures_lite::StreamExt;
///
/// # pride::run(async {
/// let dir = std::env::temp_dir().join(format!("pride-read-dir-doc-{}", std::process::id()));
/// pride::fs::create_dir(&dir).await?;
/// pride::fs::write(dir.join("a"), "").await?;
/// pride::fs::write(dir.join("b"), "").await?;
/// let entries: Vec<pride::fs::DirEntry> = pride::fs::read_dir(&dir).await?.try_collect().await?;
/// let mut names: Vec<_> = entries.iter().map(|e| e.file_name()).collect();
/// names.sort();
/// assert_eq!(names, ["a", "b"]);
/// # pride::fs::remove_dir_all(&dir).await?;
/// # Ok::<_, std::io::Error>(()) }).unwrap();
/// ```
pub fn read_dir(path: impl AsRef<Path>) -> Op<ReadDir> {
    super::with_path(path, |path| {
        Ok(ReadDir {
            buffer: VecDeque::new(),
            state: State::Idle(Some(std::fs::read_dir(path)?)),
        })
    })
}

/// A directory being listed: made by [`read_dir`].
///
/// Cancel-safe: a [`next_entry`](ReadDir::next_entry) dropped while a batch is being
/// read keeps the batch for the next call; no entry is skipped. A batch still queued
/// when its runtime's drop begins never runs, and the directory went into it: the
/// listing then ends with an error.
///
/// ```
/// # pride::run(async {
/// # let dir = std::env::temp_dir().join(format!("pride-doc-{}-readdir", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// pride::fs::write(dir.join("notes.txt"), "hello").await?;
/// let mut entries = pride::fs::read_dir(&dir).await?;
/// let mut names = Vec::new();
/// while let Some(entry) = entries.next_entry().await? {
///     names.push(entry.file_name());
/// }
/// assert_eq!(names, ["notes.txt"]);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<_, std::io::Error>(())
/// # }).unwrap();
/// ```
pub struct ReadDir {
    buffer: VecDeque<io::Result<DirEntry>>,
    state: State,
}

type Batch = (std::fs::ReadDir, VecDeque<io::Result<DirEntry>>, bool);

enum State {
    /// `None` once the directory is exhausted.
    Idle(Option<std::fs::ReadDir>),
    Busy(ToThread<Batch>),
}

impl ReadDir {
    /// The next entry, `Ok(None)` at the end.
    ///
    /// ```
    /// # pride::run(async {
    /// let dir = std::env::temp_dir().join(format!("pride-next-entry-doc-{}", std::process::id()));
    /// pride::fs::create_dir(&dir).await?;
    /// pride::fs::write(dir.join("only"), "").await?;
    /// let mut entries = pride::fs::read_dir(&dir).await?;
    /// let entry = entries.next_entry().await?.unwrap();
    /// assert_eq!(entry.file_name(), "only");
    /// assert!(entries.next_entry().await?.is_none());
    /// # pride::fs::remove_dir_all(&dir).await?;
    /// # Ok::<_, std::io::Error>(()) }).unwrap();
    /// ```
    ///
    /// ```
    /// # pride::run(async {
    /// # let dir = std::env::temp_dir().join(format!("pride-doc-{}-next-entry", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// pride::fs::write(dir.join("notes.txt"), "hello").await?;
    /// let mut entries = pride::fs::read_dir(&dir).await?;
    /// assert!(entries.next_entry().await?.is_some());
    /// assert!(entries.next_entry().await?.is_none()); // the end of the listing
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<_, std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn next_entry(&mut self) -> io::Result<Option<DirEntry>> {
        std::future::poll_fn(|cx| self.poll_next_entry(cx))
            .await
            .transpose()
    }

    fn poll_next_entry(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<DirEntry>>> {
        loop {
            if let Some(entry) = self.buffer.pop_front() {
                return Poll::Ready(Some(entry));
            }
            match &mut self.state {
                State::Idle(None) => return Poll::Ready(None),
                State::Idle(dir) => {
                    let mut dir = dir.take().expect("checked above");
                    self.state = State::Busy(crate::to_thread(move || {
                        let mut batch = VecDeque::with_capacity(BATCH);
                        for _ in 0..BATCH {
                            match dir.next() {
                                Some(entry) => batch.push_back(entry.map(DirEntry::new)),
                                None => return (dir, batch, true),
                            }
                        }
                        (dir, batch, false)
                    }));
                }
                State::Busy(read) => match ready!(read.poll_ran(cx)) {
                    Ok((dir, batch, end)) => {
                        self.buffer = batch;
                        self.state = State::Idle((!end).then_some(dir));
                    }
                    // The directory went with a batch that never ran: the listing ends
                    // with an error.
                    Err(NotRun) => {
                        self.state = State::Idle(None);
                        return Poll::Ready(Some(Err(io::Error::other(
                            "the runtime was dropped before this listing's next batch \
                             was read on its blocking pool; the directory went with it",
                        ))));
                    }
                },
            }
        }
    }
}

impl futures_core::Stream for ReadDir {
    type Item = io::Result<DirEntry>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_next_entry(cx)
    }
}

impl std::fmt::Debug for ReadDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadDir")
            .field("buffered", &self.buffer.len())
            .finish_non_exhaustive()
    }
}

/// One entry of a directory listing, from [`ReadDir`].
///
/// ```
/// # pride::run(async {
/// let dir = std::env::temp_dir().join(format!("pride-dir-entry-doc-{}", std::process::id()));
/// pride::fs::create_dir(&dir).await?;
/// pride::fs::write(dir.join("file"), "abc").await?;
/// let entry = pride::fs::read_dir(&dir).await?.next_entry().await?.unwrap();
/// assert_eq!(entry.path(), dir.join("file"));
/// assert!(entry.file_type().await?.is_file());
/// assert_eq!(entry.metadata().await?.len(), 3);
/// # pride::fs::remove_dir_all(&dir).await?;
/// # Ok::<_, std::io::Error>(()) }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct DirEntry(Arc<std::fs::DirEntry>);

impl DirEntry {
    fn new(entry: std::fs::DirEntry) -> DirEntry {
        DirEntry(Arc::new(entry))
    }

    /// The entry's full path: the listed directory joined with its file name.
    ///
    /// ```
    /// # pride::run(async {
    /// # let dir = std::env::temp_dir().join(format!("pride-doc-{}-entry-path", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// pride::fs::write(dir.join("notes.txt"), "hello").await?;
    /// let mut entries = pride::fs::read_dir(&dir).await?;
    /// let entry = entries.next_entry().await?.unwrap();
    /// assert_eq!(entry.path(), dir.join("notes.txt"));
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<_, std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn path(&self) -> PathBuf {
        self.0.path()
    }

    /// The entry's file name, without its directory.
    ///
    /// ```
    /// # pride::run(async {
    /// # let dir = std::env::temp_dir().join(format!("pride-doc-{}-entry-name", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// pride::fs::write(dir.join("notes.txt"), "hello").await?;
    /// let mut entries = pride::fs::read_dir(&dir).await?;
    /// let entry = entries.next_entry().await?.unwrap();
    /// assert_eq!(entry.file_name(), "notes.txt");
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<_, std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn file_name(&self) -> OsString {
        self.0.file_name()
    }

    /// The entry's metadata, not following a symbolic link.
    ///
    /// ```
    /// # pride::run(async {
    /// # let dir = std::env::temp_dir().join(format!("pride-doc-{}-entry-meta", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// pride::fs::write(dir.join("notes.txt"), "hello").await?;
    /// let mut entries = pride::fs::read_dir(&dir).await?;
    /// let entry = entries.next_entry().await?.unwrap();
    /// assert_eq!(entry.metadata().await?.len(), 5);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<_, std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn metadata(&self) -> Op<std::fs::Metadata> {
        let entry = self.0.clone();
        Op::new(move || entry.metadata())
    }

    /// The entry's file type, not following a symbolic link.
    ///
    /// ```
    /// # pride::run(async {
    /// # let dir = std::env::temp_dir().join(format!("pride-doc-{}-entry-type", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// pride::fs::write(dir.join("notes.txt"), "hello").await?;
    /// let mut entries = pride::fs::read_dir(&dir).await?;
    /// let entry = entries.next_entry().await?.unwrap();
    /// assert!(entry.file_type().await?.is_file());
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<_, std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn file_type(&self) -> Op<std::fs::FileType> {
        let entry = self.0.clone();
        Op::new(move || entry.file_type())
    }
}
