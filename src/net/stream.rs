//! What TCP and Unix streams share, written once: the I/O methods, the
//! `futures_io` traits, and the borrowed and owned halves. `stream_impls!` is invoked
//! by `tcp.rs` and `unix.rs`, inside the module where the halves should live.

/// A doc example for a stream method: `$pair` (hidden lines) makes `a` and `b`, the
/// two connected ends, inside `pride::run`; `$body` is the visible code.
macro_rules! stream_example {
    ($pair:literal, $body:literal) => {
        concat!(
            "```\n# pride::run(async {\n",
            $pair,
            "// `a` and `b` are the two ends of one connection.\n",
            $body,
            "# Ok::<_, std::io::Error>(())\n# }).unwrap();\n```"
        )
    };
}

/// Generates the stream API for `$stream` (a struct with an `io: IoSource<_>` field
/// whose source implements `Read`/`Write` for `&Source`), with addresses of type
/// `$addr`. `$pair` is hidden doc-example code that connects two streams, `a`
/// (mutable) and `b`.
macro_rules! stream_impls {
    ($stream:ident, $addr:ty, $pair:literal) => {
        impl $stream {
            /// Reads into `buf`, waiting until data arrives; `Ok(0)` means the peer
            /// closed its writing side (or `buf` is empty).
            ///
            /// Cancel-safe: if the future is dropped before it completes, no data was
            /// read.
            ///
            #[doc = stream_example!($pair, "a.write_all(b\"ping\").await?;\nlet mut buf = [0; 16];\nlet n = b.read(&mut buf).await?;\nassert_eq!(&buf[..n], b\"ping\");\n")]
            pub async fn read(&self, buf: &mut [u8]) -> std::io::Result<usize> {
                // Nothing to read into: done at once, as std's `read` is, not after
                // the peer next sends.
                if buf.is_empty() {
                    return Ok(0);
                }
                self.io
                    .async_io(Direction::Read, |s| std::io::Read::read(&mut &*s, buf))
                    .await
            }

            /// Writes some of `buf`, waiting until the socket can take data; returns
            /// how many bytes were written.
            ///
            /// Cancel-safe: if the future is dropped before it completes, nothing was
            /// written.
            ///
            #[doc = stream_example!($pair, "let n = a.write(b\"hello\").await?;\nassert!(n > 0); // the first `n` bytes were sent\n")]
            pub async fn write(&self, buf: &[u8]) -> std::io::Result<usize> {
                // Nothing to write: done at once, as std's `write` is, not once the
                // peer has made room.
                if buf.is_empty() {
                    return Ok(0);
                }
                self.io
                    .async_io(Direction::Write, |s| std::io::Write::write(&mut &*s, buf))
                    .await
            }

            /// Writes all of `buf`. Not cancel-safe: dropped halfway, a prefix of
            /// `buf` may have been written.
            ///
            #[doc = stream_example!($pair, "a.write_all(b\"hello, world\").await?;\na.shutdown(std::net::Shutdown::Write)?;\nlet mut received = Vec::new();\nlet mut buf = [0; 4];\nloop {\n    match b.read(&mut buf).await? {\n        0 => break, // end of file\n        n => received.extend_from_slice(&buf[..n]),\n    }\n}\nassert_eq!(received, b\"hello, world\");\n")]
            pub async fn write_all(&self, mut buf: &[u8]) -> std::io::Result<()> {
                while !buf.is_empty() {
                    match self.write(buf).await? {
                        0 => return Err(std::io::ErrorKind::WriteZero.into()),
                        n => buf = &buf[n..],
                    }
                }
                Ok(())
            }

            /// Waits until the stream may be readable (a read may still find nothing,
            /// see [`try_read`](Self::try_read)).
            ///
            #[doc = stream_example!($pair, "a.write_all(b\"hi\").await?;\nlet mut buf = [0; 16];\nlet n = loop {\n    b.readable().await?;\n    match b.try_read(&mut buf) {\n        Ok(n) => break n,\n        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,\n        Err(e) => return Err(e),\n    }\n};\nassert_eq!(&buf[..n], b\"hi\");\n")]
            pub async fn readable(&self) -> std::io::Result<()> {
                self.io.ready(Direction::Read).await
            }

            /// Waits until the stream may be writable.
            ///
            #[doc = stream_example!($pair, "let n = loop {\n    a.writable().await?;\n    match a.try_write(b\"hi\") {\n        Ok(n) => break n,\n        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,\n        Err(e) => return Err(e),\n    }\n};\nassert!(n > 0);\n")]
            pub async fn writable(&self) -> std::io::Result<()> {
                self.io.ready(Direction::Write).await
            }

            /// Reads without waiting: `WouldBlock` if no data is there.
            ///
            #[doc = stream_example!($pair, "a.write_all(b\"hi\").await?;\nlet mut buf = [0; 16];\nlet n = loop {\n    b.readable().await?;\n    match b.try_read(&mut buf) {\n        Ok(n) => break n,\n        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,\n        Err(e) => return Err(e),\n    }\n};\nassert_eq!(&buf[..n], b\"hi\");\n")]
            pub fn try_read(&self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.io
                    .try_io(Direction::Read, |s| std::io::Read::read(&mut &*s, buf))
            }

            /// Writes without waiting: `WouldBlock` if the socket is full.
            ///
            #[doc = stream_example!($pair, "let n = loop {\n    a.writable().await?;\n    match a.try_write(b\"hi\") {\n        Ok(n) => break n,\n        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,\n        Err(e) => return Err(e),\n    }\n};\nassert!(n > 0);\n")]
            pub fn try_write(&self, buf: &[u8]) -> std::io::Result<usize> {
                self.io
                    .try_io(Direction::Write, |s| std::io::Write::write(&mut &*s, buf))
            }

            /// Shuts down the read side, the write side, or both. After
            /// `shutdown(Shutdown::Write)` the peer reads end-of-file, and this side
            /// can still read until the peer closes.
            ///
            #[doc = stream_example!($pair, "a.shutdown(std::net::Shutdown::Write)?;\nlet mut buf = [0; 16];\nassert_eq!(b.read(&mut buf).await?, 0); // `b` reads end-of-file\nb.write_all(b\"still open\").await?; // and the other direction still works\nlet n = a.read(&mut buf).await?;\nassert!(n > 0);\n")]
            pub fn shutdown(&self, how: std::net::Shutdown) -> std::io::Result<()> {
                self.io.get_ref().shutdown(how)
            }

            /// This end's address.
            ///
            #[doc = stream_example!($pair, "let here = a.local_addr()?;\nprintln!(\"connected from {here:?}\");\n")]
            pub fn local_addr(&self) -> std::io::Result<$addr> {
                self.io.get_ref().local_addr()
            }

            /// The peer's address.
            ///
            #[doc = stream_example!($pair, "let there = a.peer_addr()?;\nprintln!(\"connected to {there:?}\");\n")]
            pub fn peer_addr(&self) -> std::io::Result<$addr> {
                self.io.get_ref().peer_addr()
            }

            /// Takes the socket's pending error (`SO_ERROR`), if any.
            ///
            #[doc = stream_example!($pair, "assert!(a.take_error()?.is_none());\n")]
            pub fn take_error(&self) -> std::io::Result<Option<std::io::Error>> {
                self.io.get_ref().take_error()
            }

            /// Borrowed halves, to read and write from two branches of one future
            /// (such as a `join`) at once.
            ///
            /// With `futures_lite::AsyncReadExt` in scope, `stream.split()` resolves
            /// to that trait's by-value `split`; write `Self::split(&mut stream)`.
            ///
            #[doc = stream_example!($pair, "b.write_all(b\"ping\").await?;\nlet (reader, writer) = a.split();\nlet mut buf = [0; 4];\n// Both halves in use at once, from two branches of one future.\nlet (read, written) = futures_lite::future::zip(reader.read(&mut buf), writer.write_all(b\"pong\")).await;\nassert_eq!(read?, 4);\nwritten?;\n")]
            pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
                (ReadHalf(self), WriteHalf(self))
            }

            /// Owned halves, to move into two tasks. Dropping the write half shuts
            /// the write side down (the peer reads end-of-file).
            ///
            #[doc = stream_example!($pair, "let (reader, writer) = a.into_split();\npride::task_group(async |tg| {\n    tg.start_soon(async move {\n        writer.write_all(b\"hello\").await\n        // dropping `writer` here shuts the write side down\n    });\n    let mut buf = [0; 16];\n    let mut received = Vec::new();\n    loop {\n        match b.read(&mut buf).await? {\n            0 => break,\n            n => received.extend_from_slice(&buf[..n]),\n        }\n    }\n    assert_eq!(received, b\"hello\");\n    drop(reader);\n    Ok::<_, std::io::Error>(())\n})\n.await\n.map_err(std::io::Error::other)?;\n")]
            pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
                let stream = std::sync::Arc::new(self);
                (
                    OwnedReadHalf(stream.clone()),
                    OwnedWriteHalf(stream),
                )
            }

            fn poll_read_ref(
                &self,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                // Nothing to read into: done at once, as std's `read` is, not after
                // the peer next sends.
                if buf.is_empty() {
                    return std::task::Poll::Ready(Ok(0));
                }
                self.io
                    .poll_io(cx, Direction::Read, |s| std::io::Read::read(&mut &*s, buf))
            }

            fn poll_write_ref(
                &self,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                // Nothing to write: done at once, as std's `write` is, not once the
                // peer has made room.
                if buf.is_empty() {
                    return std::task::Poll::Ready(Ok(0));
                }
                self.io
                    .poll_io(cx, Direction::Write, |s| std::io::Write::write(&mut &*s, buf))
            }

            fn poll_write_vectored_ref(
                &self,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                if bufs.iter().all(|b| b.is_empty()) {
                    return std::task::Poll::Ready(Ok(0));
                }
                self.io.poll_io(cx, Direction::Write, |s| {
                    std::io::Write::write_vectored(&mut &*s, bufs)
                })
            }

            fn poll_close_ref(&self) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(self.shutdown(std::net::Shutdown::Write))
            }
        }

        stream_impls!(@traits $stream, [], |s| s);
        stream_impls!(@traits &$stream, [], |s| *s);
        stream_impls!(@read ReadHalf<'_>, |s| s.0);
        stream_impls!(@write WriteHalf<'_>, |s| s.0);
        stream_impls!(@read OwnedReadHalf, |s| &*s.0);
        stream_impls!(@write OwnedWriteHalf, |s| &*s.0);

        /// The reading half of a borrowed [`split`]($stream::split).
        ///
        #[doc = stream_example!($pair, "b.write_all(b\"ping\").await?;\nlet (reader, _writer) = a.split();\nlet mut buf = [0; 4];\nassert_eq!(reader.read(&mut buf).await?, 4);\n")]
        #[derive(Debug)]
        pub struct ReadHalf<'a>(&'a $stream);

        /// The writing half of a borrowed [`split`]($stream::split).
        ///
        #[doc = stream_example!($pair, "let (_reader, writer) = a.split();\nwriter.write_all(b\"ping\").await?;\nlet mut buf = [0; 4];\nassert_eq!(b.read(&mut buf).await?, 4);\n")]
        #[derive(Debug)]
        pub struct WriteHalf<'a>(&'a $stream);

        /// The reading half of [`into_split`]($stream::into_split).
        ///
        #[doc = stream_example!($pair, "b.write_all(b\"ping\").await?;\nlet (reader, _writer) = a.into_split();\nlet mut buf = [0; 4];\nassert_eq!(reader.read(&mut buf).await?, 4);\n")]
        #[derive(Debug)]
        pub struct OwnedReadHalf(std::sync::Arc<$stream>);

        /// The writing half of [`into_split`]($stream::into_split); dropping it shuts
        /// the write side down.
        ///
        #[doc = stream_example!($pair, "let (_reader, writer) = a.into_split();\nwriter.write_all(b\"ping\").await?;\ndrop(writer); // shuts the write side down\nlet mut buf = [0; 8];\nassert_eq!(b.read(&mut buf).await?, 4);\nassert_eq!(b.read(&mut buf).await?, 0);\n")]
        #[derive(Debug)]
        pub struct OwnedWriteHalf(std::sync::Arc<$stream>);

        impl Drop for OwnedWriteHalf {
            fn drop(&mut self) {
                let _ = self.0.shutdown(std::net::Shutdown::Write);
            }
        }

        impl ReadHalf<'_> {
            /// Reads, like [`read`]($stream::read).
            pub async fn read(&self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.0.read(buf).await
            }

            /// The peer's address.
            pub fn peer_addr(&self) -> std::io::Result<$addr> {
                self.0.peer_addr()
            }
        }

        impl WriteHalf<'_> {
            /// Writes, like [`write`]($stream::write).
            pub async fn write(&self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.write(buf).await
            }

            /// Writes all of `buf`, like [`write_all`]($stream::write_all).
            pub async fn write_all(&self, buf: &[u8]) -> std::io::Result<()> {
                self.0.write_all(buf).await
            }

            /// The peer's address.
            pub fn peer_addr(&self) -> std::io::Result<$addr> {
                self.0.peer_addr()
            }
        }

        impl OwnedReadHalf {
            /// Reads, like [`read`]($stream::read).
            pub async fn read(&self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.0.read(buf).await
            }

            /// The peer's address.
            pub fn peer_addr(&self) -> std::io::Result<$addr> {
                self.0.peer_addr()
            }
        }

        impl OwnedWriteHalf {
            /// Writes, like [`write`]($stream::write).
            pub async fn write(&self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.write(buf).await
            }

            /// Writes all of `buf`, like [`write_all`]($stream::write_all).
            pub async fn write_all(&self, buf: &[u8]) -> std::io::Result<()> {
                self.0.write_all(buf).await
            }

            /// The peer's address.
            pub fn peer_addr(&self) -> std::io::Result<$addr> {
                self.0.peer_addr()
            }
        }
    };

    (@traits $ty:ty, [], |$s:ident| $get:expr) => {
        stream_impls!(@read $ty, |$s| $get);
        stream_impls!(@write $ty, |$s| $get);
    };

    (@read $ty:ty, |$s:ident| $get:expr) => {
        /// Through this trait one task reads at a time: a poll that must wait replaces
        /// the waker of the last (tasks that share a stream use `read`, whose futures
        /// are each woken).
        impl futures_io::AsyncRead for $ty {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let $s = &*self;
                $get.poll_read_ref(cx, buf)
            }
        }
    };

    (@write $ty:ty, |$s:ident| $get:expr) => {
        /// Through this trait one task writes at a time: a poll that must wait replaces
        /// the waker of the last (tasks that share a stream use `write`, whose futures
        /// are each woken).
        impl futures_io::AsyncWrite for $ty {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let $s = &*self;
                $get.poll_write_ref(cx, buf)
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let $s = &*self;
                $get.poll_write_vectored_ref(cx, bufs)
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(Ok(()))
            }

            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                let $s = &*self;
                $get.poll_close_ref()
            }
        }
    };
}
