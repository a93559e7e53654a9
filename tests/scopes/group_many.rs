//! Many tasks: every child runs, and every child future is dropped exactly once.

use crate::common::{Counter, Rng, runtime, watchdog};
use pride::{BoxError, TaskError, task_group};

const N: usize = 100_000;

#[test]
fn a_hundred_thousand_tasks_all_run_and_drop_once() {
    watchdog(120, || {
        let rt = runtime(4);
        let runs = Counter::new();
        let drops = Counter::new();
        rt.block_on(task_group(async |tg| {
            for _ in 0..N {
                let runs = runs.clone();
                let guard = drops.drop_guard();
                tg.start_soon(async move {
                    let _guard = guard;
                    runs.inc();
                });
            }
        }))
        .unwrap();
        assert_eq!(runs.get(), N);
        assert_eq!(drops.get(), N);
    });
}

#[test]
fn a_hundred_thousand_tasks_with_random_yields() {
    watchdog(120, || {
        let rt = runtime(4);
        let runs = Counter::new();
        let drops = Counter::new();
        let yields = Counter::new();
        let mut rng = Rng::new(0x5eed);
        rt.block_on(task_group(async |tg| {
            for i in 0..N {
                let k = rng.below(4);
                let (runs, yields) = (runs.clone(), yields.clone());
                let guard = drops.drop_guard();
                tg.start_soon(async move {
                    let _guard = guard;
                    for _ in 0..k {
                        pride::yield_now().await;
                        yields.inc();
                    }
                    runs.inc();
                });
                // The body yields too, so children start while it is still spawning.
                if i % 1000 == 0 {
                    pride::yield_now().await;
                }
            }
        }))
        .unwrap();
        assert_eq!(runs.get(), N);
        assert_eq!(drops.get(), N);
        assert!(yields.get() > 0);
    });
}

#[test]
fn children_spawning_siblings_all_run() {
    watchdog(120, || {
        let rt = runtime(4);
        let runs = Counter::new();
        let drops = Counter::new();
        rt.block_on(task_group(async |tg| {
            for _ in 0..100 {
                let tg2 = tg.clone();
                let (runs, drops) = (runs.clone(), drops.clone());
                let guard = drops.drop_guard();
                tg.start_soon(async move {
                    let _guard = guard;
                    for _ in 0..100 {
                        let runs = runs.clone();
                        let guard = drops.drop_guard();
                        tg2.start_soon(async move {
                            let _guard = guard;
                            pride::yield_now().await;
                            runs.inc();
                        });
                    }
                    runs.inc();
                });
            }
        }))
        .unwrap();
        assert_eq!(runs.get(), 100 + 100 * 100);
        assert_eq!(drops.get(), 100 + 100 * 100);
    });
}

// The nested bodies return `Result<_, TaskError>`: with `BoxError` the children are not
// `Send` (see `tests/send.rs`).
#[test]
fn nested_groups_three_levels_deep_with_fan_out() {
    const FAN: usize = 8;
    watchdog(120, || {
        let rt = runtime(4);
        let leaves = Counter::new();
        let drops = Counter::new();
        let total = rt
            .block_on(task_group(async |tg| {
                let mut handles = Vec::new();
                for _ in 0..FAN {
                    let (leaves, drops) = (leaves.clone(), drops.clone());
                    let guard = drops.drop_guard();
                    handles.push(tg.spawn(async move {
                        let _guard = guard;
                        // Level 2.
                        task_group(async |tg| {
                            let mut handles = Vec::new();
                            for _ in 0..FAN {
                                let (leaves, drops) = (leaves.clone(), drops.clone());
                                let guard = drops.drop_guard();
                                handles.push(tg.spawn(async move {
                                    let _guard = guard;
                                    // Level 3.
                                    task_group(async |tg| {
                                        for _ in 0..FAN {
                                            let leaves = leaves.clone();
                                            let guard = drops.drop_guard();
                                            tg.start_soon(async move {
                                                let _guard = guard;
                                                pride::yield_now().await;
                                                leaves.inc();
                                            });
                                        }
                                        Ok::<_, TaskError>(FAN)
                                    })
                                    .await
                                }));
                            }
                            let mut sum = 0;
                            for h in handles {
                                sum += h.await?;
                            }
                            Ok::<_, TaskError>(sum)
                        })
                        .await
                    }));
                }
                let mut sum = 0;
                for h in handles {
                    sum += h.await?;
                }
                Ok::<_, BoxError>(sum)
            }))
            .unwrap();
        assert_eq!(total, FAN * FAN * FAN);
        assert_eq!(leaves.get(), FAN * FAN * FAN);
        assert_eq!(drops.get(), FAN + FAN * FAN + FAN * FAN * FAN);
    });
}
