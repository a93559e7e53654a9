//! Feature `tracing`: a span per group and per task, nested as the tree is, and events
//! for start/started, cancel (with its reason), errors and panics.
//!
//! A tiny recording subscriber (installed globally, so the workers report to it too)
//! keeps every span with its parent and every event with the span it happened in.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

#[derive(Clone, Debug)]
struct SpanInfo {
    name: &'static str,
    task_name: Option<String>,
    parent: Option<u64>,
}

#[derive(Clone, Debug)]
struct EventInfo {
    fields: HashMap<String, String>,
    span: Option<u64>,
}

#[derive(Default)]
struct Recorder {
    next: AtomicU64,
    spans: Mutex<HashMap<u64, SpanInfo>>,
    events: Mutex<Vec<EventInfo>>,
}

thread_local! {
    static STACK: std::cell::RefCell<Vec<u64>> = const { std::cell::RefCell::new(Vec::new()) };
}

struct Fields(HashMap<String, String>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl Subscriber for &'static Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let mut fields = Fields(HashMap::new());
        attrs.record(&mut fields);
        let parent = if attrs.is_contextual() {
            STACK.with(|s| s.borrow().last().copied())
        } else {
            attrs.parent().map(Id::into_u64)
        };
        let info = SpanInfo {
            name: attrs.metadata().name(),
            task_name: fields.0.remove("task.name"),
            parent,
        };
        self.spans.lock().unwrap().insert(id, info);
        Id::from_u64(id)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields(HashMap::new());
        event.record(&mut fields);
        let span = STACK.with(|s| s.borrow().last().copied());
        self.events.lock().unwrap().push(EventInfo {
            fields: fields.0,
            span,
        });
    }

    fn enter(&self, id: &Id) {
        STACK.with(|s| s.borrow_mut().push(id.into_u64()));
    }

    fn exit(&self, id: &Id) {
        STACK.with(|s| {
            let mut s = s.borrow_mut();
            if let Some(at) = s.iter().rposition(|&x| x == id.into_u64()) {
                s.remove(at);
            }
        });
    }
}

fn recorder() -> &'static Recorder {
    static RECORDER: OnceLock<&'static Recorder> = OnceLock::new();
    RECORDER.get_or_init(|| {
        let recorder: &'static Recorder = Box::leak(Box::default());
        tracing::subscriber::set_global_default(recorder).unwrap();
        recorder
    })
}

impl Recorder {
    fn span_named(&self, task: &str) -> (u64, SpanInfo) {
        let spans = self.spans.lock().unwrap();
        let (id, info) = spans
            .iter()
            .find(|(_, s)| s.task_name.as_deref() == Some(task))
            .unwrap_or_else(|| panic!("no span for task {task:?}: {spans:?}"));
        (*id, info.clone())
    }

    fn span(&self, id: u64) -> SpanInfo {
        self.spans.lock().unwrap()[&id].clone()
    }

    fn events_with(&self, key: &str, value: &str) -> Vec<EventInfo> {
        let events = self.events.lock().unwrap();
        events
            .iter()
            .filter(|e| e.fields.get(key).map(String::as_str) == Some(value))
            .cloned()
            .collect()
    }
}

#[test]
fn groups_tasks_and_their_events_are_traced() {
    let rec = recorder();
    let rt = pride::Runtime::builder().worker_threads(2).build().unwrap();
    let error = rt
        .block_on(pride::task_group(async |tg| {
            tg.start_soon_named("outer", async {
                pride::task_group(async |inner| {
                    inner.start_soon_named("leaf", async {});
                })
                .await
            });
            let port = tg
                .start_named("server", |status| async move {
                    status.started(7);
                    std::future::pending::<()>().await;
                })
                .await
                .unwrap();
            assert_eq!(port, 7);
            tg.start_soon_named("bad", async { Err::<(), _>("boom") });
            tg.start_soon_named("worse", async {
                if true {
                    panic!("kaboom")
                }
            });
        }))
        .unwrap_err();
    assert_eq!(error.errors().len(), 2);

    // leaf -> its group -> outer -> the outer group (opened in block_on: no parent).
    let (_, leaf) = rec.span_named("leaf");
    assert_eq!(leaf.name, "task");
    let inner_group = rec.span(leaf.parent.unwrap());
    assert_eq!(inner_group.name, "group");
    let (outer_id, outer) = rec.span_named("outer");
    assert_eq!(inner_group.parent, Some(outer_id));
    let top = rec.span(outer.parent.unwrap());
    assert_eq!((top.name, top.parent), ("group", None));

    let (bad_id, _) = rec.span_named("bad");
    let failed = rec.events_with("message", "task failed");
    assert!(
        failed
            .iter()
            .any(|e| e.span == Some(bad_id) && e.fields["error"].contains("boom")),
        "{failed:?}"
    );
    let (worse_id, _) = rec.span_named("worse");
    let panicked = rec.events_with("message", "task panicked");
    assert!(
        panicked
            .iter()
            .any(|e| e.span == Some(worse_id) && e.fields["panic"] == "kaboom"),
        "{panicked:?}"
    );
    let (server_id, _) = rec.span_named("server");
    assert!(
        rec.events_with("message", "started")
            .iter()
            .any(|e| e.span == Some(server_id))
    );
    assert!(!rec.events_with("task.name", "server").is_empty());
    assert!(!rec.events_with("message", "cancel").is_empty());
}

#[test]
fn a_cancel_event_carries_its_reason() {
    let rec = recorder();
    let rt = pride::Runtime::builder().worker_threads(1).build().unwrap();
    rt.block_on(async {
        let scope = pride::CancelScope::new();
        scope.cancel_with_reason("maintenance window");
        scope.run(std::future::pending::<()>()).await;
    });
    let cancels = rec.events_with("reason", "maintenance window");
    assert_eq!(cancels.len(), 1, "{cancels:?}");
    assert_eq!(cancels[0].fields["message"], "cancel");
}

/// A supervised child whose factory panics fails that run like a panic of its future:
/// the restart policy handles it, and the panic is traced as a task's panic is.
#[test]
fn a_panic_in_a_supervised_childs_factory_is_traced() {
    let rec = recorder();
    let rt = pride::Runtime::builder()
        .worker_threads(1)
        .clock(pride::time::Clock::autojump())
        .build()
        .unwrap();
    let tries = std::sync::Arc::new(AtomicU64::new(0));
    let count = tries.clone();
    rt.block_on(async move {
        pride::supervise(pride::RestartPolicy::one_for_one())
            .child("flaky-factory", move || {
                if count.fetch_add(1, Ordering::SeqCst) == 0 {
                    panic!("factory-boom");
                }
                async { Ok::<_, pride::BoxError>(()) }
            })
            .await
            .unwrap();
    });
    assert_eq!(tries.load(Ordering::SeqCst), 2, "restarted once");
    let panicked = rec.events_with("panic", "factory-boom");
    assert_eq!(panicked.len(), 1, "{panicked:?}");
    assert_eq!(panicked[0].fields["message"], "task panicked");
}
