//! Files and directories, without blocking a worker: each operation runs the matching
//! `std::fs` call on the blocking pool (see [`to_thread`](crate::to_thread)).
//!
//! The free functions mirror `std::fs` and return an [`Op`], the future of one call
//! on the pool.
//! [`File`] implements [`futures_io::AsyncRead`], [`AsyncWrite`](futures_io::AsyncWrite)
//! and [`AsyncSeek`](futures_io::AsyncSeek); [`read_dir`] gives a
//! [`Stream`](futures_core::Stream) of entries.
//!
//! **Cancel safety.** The operating system call cannot be interrupted. A future
//! dropped before a pool thread took its call up cancels it: the call never runs. Once
//! the call runs, it runs to its end and dropping the future only discards the
//! result: a dropped `remove_file` may still have removed the file, a dropped `write`
//! may still have written it. [`File`] keeps its call instead of discarding it: a call
//! dropped mid-way finishes in the background, the next operation on the file waits
//! for it and then runs its own, and bytes it read are handed to the next read, so no
//! data is lost (see [`File`] for what each kind of call leaves).
//!
//! **The runtime's drop.** A call still queued when its runtime's drop began never
//! runs: its future (polled since on another runtime, say) gives an [`io::Error`]
//! saying so, where a bare [`to_thread`](crate::to_thread) future would panic. A
//! [`File`] or a [`ReadDir`] whose call was skipped that way has lost its file or
//! directory, which went into the call: it reports that as an [`io::Error`] from then
//! on.
//!
//! Under [`Clock::autojump`](crate::time::Clock::autojump), a call queued or running
//! on the pool holds the clock, as any `to_thread` work does: time does not jump while
//! it runs, also when it waits, as a read of a pipe or FIFO through a [`File`] may, for
//! another process, until the [`File`] that made it is dropped (a read's call is then
//! left to finish with nobody waiting, and holds the clock no longer). (A child's own
//! pipes, in [`process`](crate::process), wait in the reactor instead and let time
//! jump.)
//!
//! ```
//! pride::run(async {
//!     let dir = std::env::temp_dir().join(format!("pride-fs-doc-{}", std::process::id()));
//!     pride::fs::create_dir_all(&dir).await?;
//!     let path = dir.join("hello.txt");
//!     pride::fs::write(&path, "hello").await?;
//!     assert_eq!(pride::fs::read_to_string(&path).await?, "hello");
//!     pride::fs::remove_dir_all(&dir).await?;
//!     Ok::<_, std::io::Error>(())
//! })
//! .unwrap();
//! ```

mod file;
mod read_dir;

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use crate::ToThread;
use crate::runtime::NotRun;
pub use file::File;
pub use read_dir::{DirEntry, ReadDir, read_dir};

/// The future of one call on the blocking pool: what the free functions of this
/// module, [`read_dir`] and [`DirEntry`]'s methods return. It gives the call's result.
///
/// Cancel-safe as the [module](self) says: dropped before a pool thread took the call
/// up, the call never runs; once it runs, it runs to its end. A call its runtime's
/// drop kept from running gives an [`io::Error`] (of kind
/// [`Other`](io::ErrorKind::Other)) saying so.
///
/// ```
/// # pride::run(async {
/// let call: pride::fs::Op<bool> = pride::fs::try_exists(std::env::temp_dir());
/// assert!(call.await?);
/// # Ok::<_, std::io::Error>(()) }).unwrap();
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Op<T>(ToThread<io::Result<T>>);

impl<T> std::fmt::Debug for Op<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Op").field(&self.0).finish()
    }
}

impl<T: Send + 'static> Op<T> {
    /// Runs `f` on the blocking pool, from the first poll.
    pub(crate) fn new(f: impl FnOnce() -> io::Result<T> + Send + 'static) -> Op<T> {
        Op(crate::to_thread(f))
    }
}

impl<T> Future for Op<T> {
    type Output = io::Result<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        Poll::Ready(match ready!(self.get_mut().0.poll_ran(cx)) {
            Ok(result) => result,
            Err(NotRun) => Err(io::Error::other(
                "the runtime was dropped before this call ran on its blocking pool",
            )),
        })
    }
}

/// Runs `f` with an owned copy of `path` on the blocking pool.
fn with_path<T, F>(path: impl AsRef<Path>, f: F) -> Op<T>
where
    F: FnOnce(PathBuf) -> io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    let path = path.as_ref().to_owned();
    Op::new(move || f(path))
}

/// Reads a whole file into a vector of bytes, like [`std::fs::read`].
///
/// ```
/// # pride::run(async {
/// let path = std::env::temp_dir().join(format!("pride-read-doc-{}", std::process::id()));
/// pride::fs::write(&path, [1, 2, 3]).await?;
/// assert_eq!(pride::fs::read(&path).await?, [1, 2, 3]);
/// # pride::fs::remove_file(&path).await?;
/// # Ok::<_, std::io::Error>(()) }).unwrap();
/// ```
pub fn read(path: impl AsRef<Path>) -> Op<Vec<u8>> {
    with_path(path, std::fs::read)
}

/// Reads a whole file into a string, like [`std::fs::read_to_string`]; an error if it
/// is not UTF-8.
///
/// ```
/// # pride::run(async {
/// let path = std::env::temp_dir().join(format!("pride-read-string-doc-{}", std::process::id()));
/// pride::fs::write(&path, "text").await?;
/// assert_eq!(pride::fs::read_to_string(&path).await?, "text");
/// # pride::fs::remove_file(&path).await?;
/// # Ok::<_, std::io::Error>(()) }).unwrap();
/// ```
pub fn read_to_string(path: impl AsRef<Path>) -> Op<String> {
    with_path(path, std::fs::read_to_string)
}

/// Writes `contents` as the whole of a file, creating it or truncating it, like
/// [`std::fs::write`]. `contents` is copied before the call.
///
/// ```
/// # pride::run(async {
/// let path = std::env::temp_dir().join(format!("pride-write-doc-{}", std::process::id()));
/// pride::fs::write(&path, b"bytes").await?;
/// assert_eq!(pride::fs::read(&path).await?, b"bytes");
/// # pride::fs::remove_file(&path).await?;
/// # Ok::<_, std::io::Error>(()) }).unwrap();
/// ```
pub fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> Op<()> {
    let contents = contents.as_ref().to_owned();
    with_path(path, move |path| std::fs::write(path, contents))
}

/// Creates a directory, like [`std::fs::create_dir`]; an error if it exists or its
/// parent does not.
///
/// ```
/// # pride::run(async {
/// let dir = std::env::temp_dir().join(format!("pride-create-dir-doc-{}", std::process::id()));
/// pride::fs::create_dir(&dir).await?;
/// assert!(pride::fs::metadata(&dir).await?.is_dir());
/// assert!(pride::fs::create_dir(&dir).await.is_err());
/// # pride::fs::remove_dir(&dir).await?;
/// # Ok::<_, std::io::Error>(()) }).unwrap();
/// ```
pub fn create_dir(path: impl AsRef<Path>) -> Op<()> {
    with_path(path, std::fs::create_dir)
}

/// Creates a directory and every missing parent, like [`std::fs::create_dir_all`].
///
/// ```
/// # pride::run(async {
/// let root = std::env::temp_dir().join(format!("pride-create-all-doc-{}", std::process::id()));
/// pride::fs::create_dir_all(root.join("a/b/c")).await?;
/// assert!(pride::fs::metadata(root.join("a/b/c")).await?.is_dir());
/// # pride::fs::remove_dir_all(&root).await?;
/// # Ok::<_, std::io::Error>(()) }).unwrap();
/// ```
pub fn create_dir_all(path: impl AsRef<Path>) -> Op<()> {
    with_path(path, std::fs::create_dir_all)
}

/// Removes a file (or a symbolic link), like [`std::fs::remove_file`].
///
/// ```
/// # pride::run(async {
/// let path = std::env::temp_dir().join(format!("pride-remove-doc-{}", std::process::id()));
/// pride::fs::write(&path, "x").await?;
/// pride::fs::remove_file(&path).await?;
/// assert!(!pride::fs::try_exists(&path).await?);
/// # Ok::<_, std::io::Error>(()) }).unwrap();
/// ```
pub fn remove_file(path: impl AsRef<Path>) -> Op<()> {
    with_path(path, std::fs::remove_file)
}

/// Removes an empty directory, like [`std::fs::remove_dir`].
///
/// ```
/// # pride::run(async {
/// let dir = std::env::temp_dir().join(format!("pride-remove-dir-doc-{}", std::process::id()));
/// pride::fs::create_dir(&dir).await?;
/// pride::fs::remove_dir(&dir).await?;
/// assert!(!pride::fs::try_exists(&dir).await?);
/// # Ok::<_, std::io::Error>(()) }).unwrap();
/// ```
pub fn remove_dir(path: impl AsRef<Path>) -> Op<()> {
    with_path(path, std::fs::remove_dir)
}

/// Removes a directory and everything in it, like [`std::fs::remove_dir_all`].
///
/// ```
/// # pride::run(async {
/// let dir = std::env::temp_dir().join(format!("pride-remove-all-doc-{}", std::process::id()));
/// pride::fs::create_dir_all(dir.join("inner")).await?;
/// pride::fs::write(dir.join("inner/file"), "x").await?;
/// pride::fs::remove_dir_all(&dir).await?;
/// assert!(!pride::fs::try_exists(&dir).await?);
/// # Ok::<_, std::io::Error>(()) }).unwrap();
/// ```
pub fn remove_dir_all(path: impl AsRef<Path>) -> Op<()> {
    with_path(path, std::fs::remove_dir_all)
}

/// Renames a file or directory, replacing `to` if it is a file, like
/// [`std::fs::rename`].
///
/// ```
/// # pride::run(async {
/// let dir = std::env::temp_dir().join(format!("pride-rename-doc-{}", std::process::id()));
/// pride::fs::create_dir(&dir).await?;
/// pride::fs::write(dir.join("a"), "x").await?;
/// pride::fs::rename(dir.join("a"), dir.join("b")).await?;
/// assert_eq!(pride::fs::read_to_string(dir.join("b")).await?, "x");
/// # pride::fs::remove_dir_all(&dir).await?;
/// # Ok::<_, std::io::Error>(()) }).unwrap();
/// ```
pub fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> Op<()> {
    let to = to.as_ref().to_owned();
    with_path(from, move |from| std::fs::rename(from, to))
}

/// Copies a file's contents and permissions, like [`std::fs::copy`]; returns the
/// number of bytes copied.
///
/// ```
/// # pride::run(async {
/// let dir = std::env::temp_dir().join(format!("pride-copy-doc-{}", std::process::id()));
/// pride::fs::create_dir(&dir).await?;
/// pride::fs::write(dir.join("a"), "four").await?;
/// assert_eq!(pride::fs::copy(dir.join("a"), dir.join("b")).await?, 4);
/// assert_eq!(pride::fs::read_to_string(dir.join("b")).await?, "four");
/// # pride::fs::remove_dir_all(&dir).await?;
/// # Ok::<_, std::io::Error>(()) }).unwrap();
/// ```
pub fn copy(from: impl AsRef<Path>, to: impl AsRef<Path>) -> Op<u64> {
    let to = to.as_ref().to_owned();
    with_path(from, move |from| std::fs::copy(from, to))
}

/// The metadata of a file or directory, following symbolic links, like
/// [`std::fs::metadata`].
///
/// ```
/// # pride::run(async {
/// let path = std::env::temp_dir().join(format!("pride-metadata-doc-{}", std::process::id()));
/// pride::fs::write(&path, "12345").await?;
/// let meta = pride::fs::metadata(&path).await?;
/// assert!(meta.is_file());
/// assert_eq!(meta.len(), 5);
/// # pride::fs::remove_file(&path).await?;
/// # Ok::<_, std::io::Error>(()) }).unwrap();
/// ```
pub fn metadata(path: impl AsRef<Path>) -> Op<std::fs::Metadata> {
    with_path(path, std::fs::metadata)
}

/// The metadata of a path without following a final symbolic link, like
/// [`std::fs::symlink_metadata`].
///
/// ```
/// # pride::run(async {
/// let meta = pride::fs::symlink_metadata(std::env::temp_dir()).await?;
/// assert!(meta.is_dir() || meta.file_type().is_symlink());
/// # Ok::<_, std::io::Error>(()) }).unwrap();
/// ```
pub fn symlink_metadata(path: impl AsRef<Path>) -> Op<std::fs::Metadata> {
    with_path(path, std::fs::symlink_metadata)
}

/// The absolute path with every `.`, `..` and symbolic link resolved, like
/// [`std::fs::canonicalize`]; an error if the path does not exist.
///
/// ```
/// # pride::run(async {
/// let here = pride::fs::canonicalize(".").await?;
/// assert!(here.is_absolute());
/// # Ok::<_, std::io::Error>(()) }).unwrap();
/// ```
pub fn canonicalize(path: impl AsRef<Path>) -> Op<PathBuf> {
    with_path(path, std::fs::canonicalize)
}

/// Whether the path exists (following symbolic links), like
/// [`std::fs::exists`]: `Ok(false)` when it does not, `Err` when that cannot be told
/// (such as a permission error).
///
/// ```
/// # pride::run(async {
/// assert!(pride::fs::try_exists(std::env::temp_dir()).await?);
/// assert!(!pride::fs::try_exists("/no/such/pride/path").await?);
/// # Ok::<_, std::io::Error>(()) }).unwrap();
/// ```
pub fn try_exists(path: impl AsRef<Path>) -> Op<bool> {
    with_path(path, std::fs::exists)
}
