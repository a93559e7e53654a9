//! `pride::compat::tokio`: tokio timers, sockets and spawns work inside `enter`, pride's
//! cancel scopes cut them short, and the `compat()` adapters carry bytes both ways.

mod common;

use std::time::Duration;

use common::{autojump, run};
use pride::compat::tokio::{FuturesAsyncReadCompatExt, TokioAsyncReadCompatExt, enter};

#[test]
fn tokio_timers_and_spawns_work_inside_enter() {
    run(2, 60, || async {
        let start = std::time::Instant::now();
        enter(async { tokio::time::sleep(Duration::from_millis(20)).await }).await;
        assert!(start.elapsed() >= Duration::from_millis(20));
        let n = enter(async { tokio::spawn(async { 5 }).await.unwrap() }).await;
        assert_eq!(n, 5);
    });
}

#[test]
fn a_pride_deadline_cancels_a_tokio_sleep() {
    // The autojump clock fires pride's deadline as soon as every pride task waits; the
    // tokio sleep runs on real time and is an hour long, so only the cancel ends it.
    autojump(60, || async {
        let dropped = common::Counter::new();
        let guard = dropped.drop_guard();
        let out = pride::move_on_after(
            Duration::from_secs(1),
            enter(async move {
                let _guard = guard;
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }),
        )
        .await;
        assert_eq!(out, None);
        assert_eq!(dropped.get(), 1);
    });
}

#[test]
fn a_pride_deadline_cancels_a_tokio_socket_read_and_the_socket_still_works() {
    autojump(60, || async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut client, mut server) = enter(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let client = tokio::net::TcpStream::connect(listener.local_addr()?).await?;
            let (server, _) = listener.accept().await?;
            Ok::<_, std::io::Error>((client, server))
        })
        .await
        .unwrap();

        let mut buf = [0; 5];
        let out = pride::move_on_after(Duration::from_secs(1), enter(client.read(&mut buf))).await;
        assert!(
            out.is_none(),
            "nothing was sent, so only the cancel ends the read"
        );

        enter(server.write_all(b"hello")).await.unwrap();
        enter(client.read_exact(&mut buf)).await.unwrap();
        assert_eq!(&buf, b"hello");
        // Dropped outside `enter`: still fine.
        drop((client, server));
    });
}

#[test]
fn compat_turns_pride_sockets_into_tokio_io_and_back() {
    run(2, 60, || async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        // A pride socket driven through tokio::io traits.
        let listener = pride::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        pride::task_group(async |tg| {
            tg.start_soon(async move {
                let (socket, _) = listener.accept().await?;
                let mut socket = socket.compat();
                let mut buf = [0; 4];
                socket.read_exact(&mut buf).await?;
                socket.write_all(&buf).await?;
                Ok::<_, std::io::Error>(())
            });
            let mut client = pride::net::TcpStream::connect(addr).await?;
            client.write_all(b"ping").await?;
            let mut back = [0; 4];
            futures_lite::AsyncReadExt::read_exact(&mut client, &mut back).await?;
            assert_eq!(&back, b"ping");
            Ok::<_, std::io::Error>(())
        })
        .await
        .unwrap();

        // A tokio socket driven through futures_io traits.
        enter(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let mut client = tokio::net::TcpStream::connect(listener.local_addr()?)
                .await?
                .compat();
            let (mut server, _) = listener.accept().await?;
            futures_lite::AsyncWriteExt::write_all(&mut client, b"pong").await?;
            let mut buf = [0; 4];
            server.read_exact(&mut buf).await?;
            assert_eq!(&buf, b"pong");
            server.write_all(b"back").await?;
            futures_lite::AsyncReadExt::read_exact(&mut client, &mut buf).await?;
            assert_eq!(&buf, b"back");
            Ok::<_, std::io::Error>(())
        })
        .await
        .unwrap();
    });
}

#[test]
fn enter_is_send_when_its_future_is() {
    fn assert_send<T: Send>(_: &T) {}
    assert_send(&enter(async {
        tokio::time::sleep(Duration::from_millis(1)).await
    }));
}

/// tokio's operations spend nothing of pride's budget, but each `enter` that completes
/// spends a unit: on one worker, a loop of `enter`s over an always-ready tokio
/// operation (an uncontended tokio semaphore) lets a sibling queued behind its task run
/// before the loop ends.
#[test]
fn a_loop_of_enters_over_ready_tokio_operations_yields() {
    const ROUNDS: usize = 10_000;
    let sibling_ran_first = run(1, 60, || async {
        let seen = common::Flag::new();
        pride::task_group(async |tg| {
            let group = tg.clone();
            let seen = seen.clone();
            tg.start_soon(async move {
                let sibling_ran = common::Flag::new();
                let set = sibling_ran.clone();
                // Queued on this worker, behind this task: it runs only if we yield.
                group.start_soon(async move { set.set() });
                let semaphore = enter(async { tokio::sync::Semaphore::new(1) }).await;
                for _ in 0..ROUNDS {
                    if sibling_ran.is_set() {
                        seen.set();
                        break;
                    }
                    enter(async {
                        let _permit = semaphore.acquire().await.unwrap();
                    })
                    .await;
                }
            });
        })
        .await
        .unwrap();
        seen.is_set()
    });
    assert!(
        sibling_ran_first,
        "the loop never yielded: its sibling ran only after {ROUNDS} rounds"
    );
}

/// A future that is ready at once, whose `Drop` spawns on tokio (a pooled connection
/// handing itself back does): `enter` drops it inside tokio's context, as it polls it,
/// where a spawn outside one would panic.
#[test]
fn enter_drops_a_finished_future_inside_tokios_context() {
    struct SpawnsOnDrop;
    impl std::future::Future for SpawnsOnDrop {
        type Output = u32;
        fn poll(
            self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<u32> {
            std::task::Poll::Ready(7)
        }
    }
    impl Drop for SpawnsOnDrop {
        fn drop(&mut self) {
            drop(tokio::spawn(async {}));
        }
    }
    run(1, 30, || async {
        assert_eq!(enter(SpawnsOnDrop).await, 7);
    });
}
