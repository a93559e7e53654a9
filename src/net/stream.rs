//! What TCP and Unix streams share, written once: the I/O methods, the
//! `futures_io` traits, and the borrowed and owned halves. `stream_impls!` is invoked
//! by `tcp.rs` and `unix.rs`, inside the module where the halves should live.

/// Generates the stream API for `$stream` (a struct with an `io: IoSource<_>` field
/// whose source implements `Read`/`Write` for `&Source`), with addresses of type
/// `$addr`.
macro_rules! stream_impls {
    ($stream:ident, $addr:ty) => {
        impl $stream {
            /// Reads into `buf`, waiting until data arrives; `Ok(0)` means the peer
            /// closed its writing side (or `buf` is empty).
            ///
            /// Cancel-safe: if the future is dropped before it completes, no data was
            /// read.
            pub async fn read(&self, buf: &mut [u8]) -> std::io::Result<usize> {
                std::future::poll_fn(|cx| self.poll_read_ref(cx, buf)).await
            }

            /// Writes some of `buf`, waiting until the socket can take data; returns
            /// how many bytes were written.
            ///
            /// Cancel-safe: if the future is dropped before it completes, nothing was
            /// written.
            pub async fn write(&self, buf: &[u8]) -> std::io::Result<usize> {
                std::future::poll_fn(|cx| self.poll_write_ref(cx, buf)).await
            }

            /// Writes all of `buf`. Not cancel-safe: dropped halfway, a prefix of
            /// `buf` may have been written.
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
            pub async fn readable(&self) -> std::io::Result<()> {
                std::future::poll_fn(|cx| self.io.poll_ready(cx, Direction::Read)).await;
                Ok(())
            }

            /// Waits until the stream may be writable.
            pub async fn writable(&self) -> std::io::Result<()> {
                std::future::poll_fn(|cx| self.io.poll_ready(cx, Direction::Write)).await;
                Ok(())
            }

            /// Reads without waiting: `WouldBlock` if no data is there.
            pub fn try_read(&self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.io
                    .try_io(Direction::Read, |s| std::io::Read::read(&mut &*s, buf))
            }

            /// Writes without waiting: `WouldBlock` if the socket is full.
            pub fn try_write(&self, buf: &[u8]) -> std::io::Result<usize> {
                self.io
                    .try_io(Direction::Write, |s| std::io::Write::write(&mut &*s, buf))
            }

            /// Shuts down the read side, the write side, or both. After
            /// `shutdown(Shutdown::Write)` the peer reads end-of-file, and this side
            /// can still read until the peer closes.
            pub fn shutdown(&self, how: std::net::Shutdown) -> std::io::Result<()> {
                self.io.get_ref().shutdown(how)
            }

            /// This end's address.
            pub fn local_addr(&self) -> std::io::Result<$addr> {
                self.io.get_ref().local_addr()
            }

            /// The peer's address.
            pub fn peer_addr(&self) -> std::io::Result<$addr> {
                self.io.get_ref().peer_addr()
            }

            /// Takes the socket's pending error (`SO_ERROR`), if any.
            pub fn take_error(&self) -> std::io::Result<Option<std::io::Error>> {
                self.io.get_ref().take_error()
            }

            /// Borrowed halves, to read and write from two branches of one future
            /// (such as a `join`) at once.
            ///
            /// With `futures_util::AsyncReadExt` in scope, `stream.split()` resolves
            /// to that trait's by-value `split`; write `Self::split(&mut stream)`.
            pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
                (ReadHalf(self), WriteHalf(self))
            }

            /// Owned halves, to move into two tasks. Dropping the write half shuts
            /// the write side down (the peer reads end-of-file).
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
                self.io
                    .poll_io(cx, Direction::Read, |s| std::io::Read::read(&mut &*s, buf))
            }

            fn poll_write_ref(
                &self,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.io
                    .poll_io(cx, Direction::Write, |s| std::io::Write::write(&mut &*s, buf))
            }

            fn poll_write_vectored_ref(
                &self,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
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
        #[derive(Debug)]
        pub struct ReadHalf<'a>(&'a $stream);

        /// The writing half of a borrowed [`split`]($stream::split).
        #[derive(Debug)]
        pub struct WriteHalf<'a>(&'a $stream);

        /// The reading half of [`into_split`]($stream::into_split).
        #[derive(Debug)]
        pub struct OwnedReadHalf(std::sync::Arc<$stream>);

        /// The writing half of [`into_split`]($stream::into_split); dropping it shuts
        /// the write side down.
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
