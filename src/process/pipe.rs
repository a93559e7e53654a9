//! The child's standard streams as pipes registered with the reactor.

use std::io::{self, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll};

use mio::unix::pipe::{Receiver, Sender};

use crate::net::Direction;
use crate::net::reactor::IoSource;

/// The writing end of a child's standard input, made by
/// [`Stdio::piped`](std::process::Stdio::piped); implements
/// [`futures_io::AsyncWrite`]. Dropping it, or closing it, closes the pipe: the child
/// reads end-of-file.
///
/// ```
/// use futures_lite::{AsyncReadExt, AsyncWriteExt};
/// use std::process::Stdio;
///
/// # pride::run(async {
/// let mut child = pride::process::Command::new("cat")
///     .stdin(Stdio::piped())
///     .stdout(Stdio::piped())
///     .spawn()?;
/// let mut stdin = child.stdin.take().unwrap();
/// stdin.write_all(b"echo").await?;
/// stdin.close().await?;
/// let mut out = String::new();
/// child.stdout.take().unwrap().read_to_string(&mut out).await?;
/// assert_eq!(out, "echo");
/// assert!(child.wait().await?.success());
/// # Ok::<_, std::io::Error>(()) }).unwrap();
/// ```
#[derive(Debug)]
pub struct ChildStdin {
    /// `None` once closed.
    io: Option<IoSource<Sender>>,
}

/// The reading end of a child's standard output, made by
/// [`Stdio::piped`](std::process::Stdio::piped); implements [`futures_io::AsyncRead`].
///
/// ```
/// use futures_lite::AsyncReadExt;
/// use std::process::Stdio;
///
/// # pride::run(async {
/// let mut child = pride::process::Command::new("echo").arg("hi").stdout(Stdio::piped()).spawn()?;
/// let mut out = String::new();
/// child.stdout.take().unwrap().read_to_string(&mut out).await?;
/// assert_eq!(out, "hi\n");
/// child.wait().await?;
/// # Ok::<_, std::io::Error>(()) }).unwrap();
/// ```
#[derive(Debug)]
pub struct ChildStdout {
    io: IoSource<Receiver>,
}

/// The reading end of a child's standard error, made by
/// [`Stdio::piped`](std::process::Stdio::piped); implements [`futures_io::AsyncRead`].
///
/// ```
/// use futures_lite::AsyncReadExt;
/// use std::process::Stdio;
///
/// # pride::run(async {
/// let mut child = pride::process::Command::new("sh")
///     .args(["-c", "echo oops >&2"])
///     .stderr(Stdio::piped())
///     .spawn()?;
/// let mut err = String::new();
/// child.stderr.take().unwrap().read_to_string(&mut err).await?;
/// assert_eq!(err, "oops\n");
/// child.wait().await?;
/// # Ok::<_, std::io::Error>(()) }).unwrap();
/// ```
#[derive(Debug)]
pub struct ChildStderr {
    io: IoSource<Receiver>,
}

impl ChildStdin {
    pub(super) fn new(stdin: std::process::ChildStdin) -> io::Result<ChildStdin> {
        let sender = Sender::from(stdin);
        sender.set_nonblocking(true)?;
        Ok(ChildStdin {
            io: Some(IoSource::new(sender)?),
        })
    }
}

impl ChildStdout {
    pub(super) fn new(stdout: std::process::ChildStdout) -> io::Result<ChildStdout> {
        Ok(ChildStdout {
            io: receiver(Receiver::from(stdout))?,
        })
    }
}

impl ChildStderr {
    pub(super) fn new(stderr: std::process::ChildStderr) -> io::Result<ChildStderr> {
        Ok(ChildStderr {
            io: receiver(Receiver::from(stderr))?,
        })
    }
}

fn receiver(receiver: Receiver) -> io::Result<IoSource<Receiver>> {
    receiver.set_nonblocking(true)?;
    IoSource::new(receiver)
}

fn poll_read(
    io: &IoSource<Receiver>,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<io::Result<usize>> {
    // Nothing to read into: done at once, not after the child next writes.
    if buf.is_empty() {
        return Poll::Ready(Ok(0));
    }
    io.poll_io(cx, Direction::Read, |r| (&*r).read(buf))
}

impl futures_io::AsyncRead for ChildStdout {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        poll_read(&self.io, cx, buf)
    }
}

impl futures_io::AsyncRead for ChildStderr {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        poll_read(&self.io, cx, buf)
    }
}

impl futures_io::AsyncWrite for ChildStdin {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &self.io {
            // Nothing to write: done at once, not once the child has made room.
            Some(_) if buf.is_empty() => Poll::Ready(Ok(0)),
            Some(io) => io.poll_io(cx, Direction::Write, |s| (&*s).write(buf)),
            None => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "pride::process::ChildStdin: written after close",
            ))),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io = None;
        Poll::Ready(Ok(()))
    }
}
