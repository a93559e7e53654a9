fn main() {
    let rt = pride::Runtime::builder().worker_threads(2).build().unwrap();
    let r = rt.block_on(async {
        pride::task_group(async |tg| {
            let n = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
            for i in 0..100_000 {
                let n = n.clone();
                tg.start_soon(async move {
                    if i % 3 == 0 { pride::yield_now().await; }
                    n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                });
            }
            let h = tg.spawn(async { Ok::<_, pride::BoxError>(5) });
            let v = h.await.unwrap();
            Ok::<_, pride::BoxError>((n, v))
        }).await
    });
    let (n, v) = r.unwrap();
    println!("{} {}", n.load(std::sync::atomic::Ordering::Relaxed), v);
    let r = rt.block_on(pride::task_group(async |tg| {
        tg.start_soon_named("a", async { Err::<(), _>("boom") });
        tg.start_soon_named("b", async { if true { panic!("kaboom") } });
        tg.start_soon(async { std::future::pending::<()>().await });
    }));
    println!("{}", r.unwrap_err());
}
