//! Server initialization: `start` waits until a background worker has set up its
//! connection, then work is put on its queue.
//!
//! `TaskGroup::start` runs the worker until it calls `status.started(())`; only then
//! does the caller go on, so no item is queued for a worker that is not ready. Closing
//! the queue at the end lets the worker's loop finish, and with it the group.
//!
//! System clock, short sleeps: runs in about 100 ms.
//! Run it with `cargo run --example server_init`.

use std::time::Duration;

use pride::{BoxError, Queue, TaskStatus, sleep};

struct Connection {
    id: u32,
}

async fn setup_connection() -> Connection {
    sleep(Duration::from_millis(50)).await;
    println!("worker: connection established");
    Connection { id: 7 }
}

async fn process_item(item: &str, connection: &Connection) {
    sleep(Duration::from_millis(10)).await;
    println!("worker: processed {item:?} on connection {}", connection.id);
}

async fn background_worker(queue: Queue<String>, task_status: TaskStatus<()>) {
    // Initialize resources.
    let connection = setup_connection().await;

    // Signal ready.
    task_status.started(());

    // Run the worker loop until the queue is closed and drained.
    while let Ok(item) = queue.get().await {
        process_item(&item, &connection).await;
    }
    println!("worker: queue closed, stopping");
}

fn main() -> Result<(), BoxError> {
    let work_queue = Queue::unbounded();
    pride::run(pride::task_group(async |tg| {
        // Wait for the worker to initialize.
        let queue = work_queue.clone();
        tg.start_named("background_worker", |status| {
            background_worker(queue, status)
        })
        .await?;
        println!("main: worker is ready");

        // Safe to add work now.
        work_queue.put("item1".to_string()).await?;
        work_queue.put("item2".to_string()).await?;
        work_queue.close();
        Ok::<_, BoxError>(())
    }))?;
    println!("main: all work done");
    Ok(())
}
