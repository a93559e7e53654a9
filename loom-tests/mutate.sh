#!/usr/bin/env bash
# Re-runs the mutation table of loom-tests/README.md: applies each seeded bug to the
# source, runs the loom model that should catch it, expects it to fail, and restores
# the source. Prints CAUGHT or ESCAPED per row; exits non-zero if a row that should
# be caught escaped (rows marked `escape` in the table are expected to escape and are
# reported, not failed).
#
#   loom-tests/mutate.sh            # every row
#   loom-tests/mutate.sh M1 M5      # some rows
#
# Each row rebuilds pride with `--cfg pride_loom` in release mode (target/loom), so a
# full pass takes a while; the models run with LOOM_MAX_PREEMPTIONS=2 like .ci/run.
set -uo pipefail
cd "$(dirname "$0")/.."

# id # file # perl substitution (applied with -0pe; must change the file) # loom test # expect
rows=(
  'M1#src/task/state.rs#s/fetch_sub\(REF_ONE, Ordering::AcqRel\)/fetch_sub(REF_ONE, Ordering::Relaxed)/#loom_task_state#caught'
  'M2#src/task/state.rs#s/fetch_xor\(RUNNING \| COMPLETE, Ordering::AcqRel\)/fetch_xor(RUNNING | COMPLETE, Ordering::Relaxed)/#loom_task_state#caught'
  'M3#src/task/state.rs#s/compare_exchange_weak\(cur, next, Ordering::AcqRel, Ordering::Acquire\)/compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed)/#loom_task_state#caught'
  'M4#src/time/entry.rs#s/self.state.store\(RETIRED, Ordering::Release\)/self.state.store(RETIRED, Ordering::Relaxed)/#loom_time_entry#caught'
  'M5#src/time/entry.rs#s/self.state.load\(Ordering::Acquire\) == RETIRED/self.state.load(Ordering::Relaxed) == RETIRED/#loom_time_entry#caught'
  'M6#src/time/entry.rs#s/let waker = self.waker.take\(\);\n(\s*\/\/[^\n]*\n)*(\s*)self.state.store\(RETIRED, Ordering::Release\);/self.state.store(RETIRED, Ordering::Release);\n$2let waker = self.waker.take();/#loom_time_entry#caught'
  'M7#src/runtime/idle.rs#s/fence\(Ordering::SeqCst\);\n(\s*)if !self.should_notify/$1if !self.should_notify/#loom_idle#caught'
  'M8#src/runtime/park.rs#s/self.inner.state.swap\(EMPTY, Ordering::SeqCst\);\n(\s*)false/self.inner.state.store(EMPTY, Ordering::SeqCst);\n$1false/#loom_idle#caught'
  'M9#src/runtime/idle.rs#s/let work = worker.has_visible_work\(\);/let work = false;/#loom_idle#caught'
  'M10#src/runtime/park.rs#s/(== NOTIFIED && self.try_consume\(\));/$1 && false;/#loom_idle#caught'
  'M11#src/debug/watchdog.rs#s/if self.dozing.load\(Ordering::Relaxed\) && self.dozing.swap\(false, Ordering::Relaxed\) \{/if false {/#loom_idle#caught'
  'M12#src/runtime/idle.rs#s/(pub fn if_all_parked[^\n]*\n)\s*let _sleepers = self.sleepers.lock\(\);\n/$1/#loom_idle#caught'
  'M13#src/debug/watchdog.rs#s/let _stopped = self.stopped.lock\(\);\n//#loom_idle#caught'
  'M14#src/runtime/idle.rs#s/    if !\(work \|\| worker.is_shutdown\(\) \|\| ready\(\)\) \{\n        worker.sleep\(\);\n    \}/    let slept = !(work || worker.is_shutdown() || ready());\n    if slept {\n        worker.sleep();\n    }/; s/    worker.woke\(\);\n/    if slept {\n        worker.woke();\n    }\n/#loom_idle#caught'
  'M15#src/runtime/idle.rs#s/\} else if last_searcher && work \{/} else if false {/#loom_idle#caught'
  'M16#src/runtime/idle.rs#s/    park_unless\(worker, ready\);\n    found_work\(worker\);/    park_unless(worker, ready);/#loom_idle#caught'
  'M17#src/task/state.rs#s/\(Some\(s\), ToNotified::DoNothing\)/(None, ToNotified::DoNothing)/g#loom_task_state#caught'
  'M18#src/task/raw.rs#s/let waker = self.join_waker.lock\(\).take\(\);\n\s*drop\(waker\);/let _ = &self.join_waker;/#loom_task_state#caught'
  'T1#src/time/driver.rs#s/(parked_until.store\(PARKING, Ordering::Relaxed\);\n)(\s*\/\/[^\n]*\n)*\s*fence\(Ordering::SeqCst\);\n/$1/#loom_timer#caught'
  'T2#src/time/driver.rs#s/(fn note_deadline\(&self, tick: u64\) \{\n)(\s*\/\/[^\n]*\n)*\s*fence\(Ordering::SeqCst\);\n/$1/#loom_timer#caught'
  'T3#src/time/driver.rs#s/\(self.unpark\)\(\);/()/#loom_timer#caught'
  'T4#src/time/driver.rs#s/let earliest = wheel.next_deadline\(\).unwrap_or\(NO_TIMER\);/let earliest = NO_TIMER;/#loom_timer#caught'
  'T5#src/time/driver.rs#s/shard.earliest.load\(Ordering::Acquire\) <= due_by/shard.earliest.load(Ordering::Relaxed) <= due_by/#loom_timer#escape'
  'T6#src/time/timer.rs#s/let later = tick > current \|\| \(tick == current && !shard.clock\(\).is_mock\(\)\);/let later = tick >= current;/#loom_timer#caught'
  'T7#src/time/driver.rs#s/process_shards\(&self.shared, &self.shards, &mut batch, true\);\n(\s*)self.process_others/process_shards(&self.shared, &self.shards, &mut batch, false);\n$1self.process_others/#loom_timer#caught'
  'T8#src/time/driver.rs#s/(let mut wheel = self.wheel.lock\(\);\n)((?:.*\n)*?)(\s*let tick = self.tick_for\(deadline\);\n)/$3$1$2/#loom_timer#caught'
  'T9#src/time/timer.rs#s/if !shard.is_shut_down\(\) \{/if true {/#loom_timer#caught'
  'T10#src/time/driver.rs#s/Some\(ptr\) => \(ptr, now_tick.max\(wheel.elapsed\(\)\)\),/Some(ptr) => (ptr, now_tick),/#loom_timer#caught'
  'R1#src/net/scheduled_io.rs#s/if current & TICK_MASK != event.tick \{/if false {/#loom_reactor#caught'
  'R2#src/net/scheduled_io.rs#s/(let mut waiters = self.waiters.lock\(\);\n)(\s*\/\/[^\n]*\n)*\s*if let Some\(event\) = self.ready_now\(direction, spent\) \{\n\s*return Poll::Ready\(event\);\n\s*\}\n/$1/#loom_reactor#caught'
  'R3#src/net/scheduled_io.rs#s/(let mut current = self.word.load\(Ordering::Acquire\);\n(\s*)loop \{\n\s*if \(current >> GEN_SHIFT\))/self.wake(ready);\n$2$1/; s/\}\n(\s*)self.wake\(ready\);\n(\s*)true/}\n$2true/#loom_reactor#caught'
  'R4#src/net/scheduled_io.rs#s/\.compare_exchange_weak\(current, new, Ordering::AcqRel, Ordering::Acquire\)/.compare_exchange_weak(current, new, Ordering::Relaxed, Ordering::Relaxed)/#loom_reactor#escape'
  'R5#src/net/scheduled_io.rs#s/(\n(\s*)woken.extend\(waker.take\(\)\);\n)/$1$2break;\n/#loom_reactor#caught'
  'R6#src/net/scheduled_io.rs#s/self.set_readiness\(generation, SHUT_DOWN\);/let _ = generation;\n        self.word.fetch_or(SHUT_DOWN, Ordering::AcqRel);\n        self.wake(SHUT_DOWN);/#loom_reactor#caught'
  'R7#src/net/scheduled_io.rs#s/Direction::Read => READABLE \| READ_CLOSED \| SHUT_DOWN,/Direction::Read => READABLE | READ_CLOSED,/#loom_reactor#caught'
  'R8#src/net/scheduled_io.rs#s/let removed = self.io.waiters.lock\(\).owned.remove\(key\);/let removed = key;/#loom_reactor#caught'
  'R9#src/net/scheduled_io.rs#s/for \(_, \(waits_for, waker\)\) in self.owned.iter_mut\(\) \{\n\s*if \*waits_for == direction \{\n\s*woken.extend\(waker.take\(\)\);\n\s*\}\n\s*\}/self.owned.retain(|_, (waits_for, waker)| *waits_for != direction || { woken.extend(waker.take()); false });/#loom_reactor#caught'
  'O1#src/runtime/owned.rs#s/if self.closed.load\(Ordering::Relaxed\) \{/if false {/#loom_owned#caught'
  'O2#src/runtime/owned.rs#s/self.closed.store\(true, Ordering::SeqCst\);\n(\s*)(for shard in self.shards.iter\(\) \{\n(?:.*\n)*?)\1\}\n/$2$1}\n$1self.closed.store(true, Ordering::SeqCst);\n/#loom_owned#caught'
  'O3#src/runtime/owned.rs#s/(let shard = &self.shards\[[^\n]*\n)/$1let closed = self.closed.load(Ordering::Relaxed);\n/; s/if self.closed.load\(Ordering::Relaxed\) \{/if closed {/#loom_owned#caught'
  'O4#src/cancel/node/links.rs#s/if locked.shut \{/if false {/#loom_owned#caught'
  'O5#src/cancel/node/links.rs#s/table.shut \|= shut;\n//#loom_owned#caught'
  'O6#src/cancel/node/links.rs#s/Err\(ListClosed\) => links.shut = true,/Err(ListClosed) => {}/#loom_owned#caught'
  'O7#src/cancel/node/links.rs#s/if !links.recorded \{/if false {/#loom_owned#caught'
  'O8#src/cancel/node/links.rs#s/children.take\(shut, &mut taken\);/let _ = (children, shut);/#loom_owned#caught'
  'O9#src/cancel/node/links.rs#s/links.shut \|= shut;\n//#loom_owned#caught'
  'G10#src/cancel/node.rs#s/Below::Task \{ waker, \.\. \} => wakers\.push\(waker\.clone\(\)\),/Below::Task { .. } => {}/#loom_cancel_tree#caught'
  'G11#src/cancel/node/links.rs#s/children.for_each\(&mut f\);/let _ = children;/#loom_cancel_tree#caught'
  'G12#src/cancel/node.rs#s/(\s*)let first = self\n/$1self.flags.fetch_or(why, Ordering::AcqRel);$1let first = self\n/#loom_cancel_tree#caught'
  'G13#src/cancel/node.rs#s/then_some\(flags \| CANCELLED \| why\)/then_some(flags | CANCELLED)/; s/(\n\s*)(if first.is_err\(\) \{\n\s*return false;\n\s*\})/$1$2$1self.flags.fetch_or(why, Ordering::AcqRel);/#loom_cancel_tree#caught'
  'E1#src/sync/event.rs#s/\(!self.set.load\(Ordering::Relaxed\)\).then_some\(waiters\)/Some(waiters)/#loom_sync_event#caught'
  'E2#src/sync/event.rs#s/self.inner.set.store\(true, Ordering::Release\);/self.inner.set.store(true, Ordering::Relaxed);/#loom_sync_event#caught'
  'G8#src/cancel/run.rs#s/Some\(Catcher::Outer\) => false,/Some(Catcher::Outer) => true,/#loom_drain#caught'
  'G14#src/group/start.rs#s/let cancelled = self.cancel_reached\(\);/let cancelled = false;/#loom_start#caught'
  'G15#src/group/start.rs#s/self\.node\.cancel\(\);\n(\s*)let _ = self\.settle\(State::NotStarted\);/let _ = self.settle(State::NotStarted);\n$1self.node.cancel();/#loom_start#caught'
  'G16#src/group/start.rs#s/if self\.0\.still_the_callers_and_cancelled\(\) \{/if self.0.cancel_reached() {/#loom_start#caught'
  'G17#src/group/start.rs#s/(let waker = \{\n\s*let mut state = self\.state\.lock\(\);\n)(\s*)(if self\.cancel_reached\(\) \{\n\s*return HandOver::CallerCancelled;\n\s*\}\n)/$2$3$1/#loom_start#caught'
  'G18#src/cancel/node.rs#s/pending\.push\(\(child, true\)\);/let _ = child;/#loom_start#escape'
  'H1#src/group/shared.rs#s/self.0.fetch_add\(0, Ordering::AcqRel\) & HANDED != 0/self.0.load(Ordering::Acquire) & HANDED != 0/#loom_drain#caught'
  'H2#src/group/shared.rs#s/children.0.fetch_and\(!HANDED, Ordering::AcqRel\) & HANDED != 0/children.0.load(Ordering::Acquire) & HANDED != 0/#loom_drain#caught'
  'H3#src/group/shared.rs#s/let release = removed.handed_over\(\) &&/let release = false \&\& removed.handed_over() \&\&/#loom_drain#caught'
  'H4#src/group/shared.rs#s/counted == held.load\(Ordering::Acquire\)\n/counted <= held.load(Ordering::Acquire) + 1\n/#loom_drain#caught'
  'Q1#src/sync/queue.rs#s/state.give_back\(value, &mut wakers\);/drop(value);/#loom_sync_queue#caught'
  'Q2#src/sync/queue.rs#s/(fn give_back\(&mut self, value: T, wakers: &mut WakeList\) \{\n\s*)if self.getters.is_empty\(\) \{/$1if true {/#loom_sync_queue#caught'
  'Q3#src/sync/queue.rs#s/(self.items.push_back\(value\);\n\s*self.check\(\);\n)\s*self.watchers.grant_all\(\|\(\)\| \(\), wakers\);\n/$1/#loom_sync_queue#caught'
  'Q4#src/sync/queue.rs#s/self.closed && self.items.is_empty\(\) && self.getters.granted\(\) == 0/self.closed && self.items.is_empty()/#loom_sync_queue#caught'
  'Q5#src/sync/queue.rs#s/(self.release_slot\(wakers\);\n\s*)if self.drained\(\) \{/$1if false {/#loom_sync_queue#caught'
  'L1#src/group/limit.rs#s/if !queued.is_cancelled\(\) \{/if true {/#loom_group_limit#caught'
  'L2#src/group/limit.rs#s/unrun.push\(queued.task\);\n/unrun.push(queued.task);\n            return Next::Nothing;\n/#loom_group_limit#caught'
  'L3#src/group/limit.rs#s/if !inner.queued\[at\].is_cancelled\(\) \{/if true {/#loom_group_limit#caught'
  'L4#src/group/limit.rs#s/\} else \{\n(\s*)inner.queued.push_back\(Queued \{ task, node \}\);/} else {\n$1drop(inner);\n$1self.inner.lock().queued.push_back(Queued { task, node });/#loom_group_limit#caught'
  'L5#src/group/limit.rs#s/if inner.closed \{\n(\s*)drop\(inner\);\n(\s*)drop\(task\);/if false {\n$1drop(inner);\n$2drop(task);/#loom_group_limit#caught'
  'L6#src/group/limit.rs#s/let queued = \{\n(\s*)let mut inner = self.inner.lock\(\);/let queued = std::mem::take(&mut self.inner.lock().queued);\n        let _: VecDeque<Queued> = {\n$1let mut inner = self.inner.lock();/; s/std::mem::take\(&mut inner.queued\)\n/VecDeque::new()\n/#loom_group_limit#caught'
  'L7#src/group/limit.rs#s/Removed::Granted\(\(\)\) => inner.pass_on\(&mut unrun\),\n(\s*)Removed::Queued/Removed::Granted(()) => {\n$1    let _: &mut Vec<Notified> = &mut unrun;\n$1    Next::Nothing\n$1}\n$1Removed::Queued/#loom_group_limit#caught'
  'L8#src/group/limit.rs#s/let next = self.inner.lock\(\).pass_on\(&mut unrun\);/let idle = {\n            let inner = self.inner.lock();\n            inner.queued.is_empty() \&\& inner.waiters.is_empty()\n        };\n        let next = if idle {\n            self.inner.lock().running -= 1;\n            Next::Nothing\n        } else {\n            self.inner.lock().pass_on(\&mut unrun)\n        };/#loom_group_limit#caught'
  'L9#src/group/limit.rs#s/(fn pass_on\(&mut self, unrun: &mut Vec<Notified>\) -> Next \{\n)/$1        self.running -= 1;\n/; s/(\n\s*)self.running -= 1;\n(\s*)Next::Nothing/$1Next::Nothing/#loom_group_limit#caught'
  'L10#src/group/start.rs#s/(fn look\(&self\) -> Option<Arc<ScopeNode>> \{\n\s*)if self.0.still_the_callers_and_cancelled\(\) \{/$1if false {/#loom_group_limit#caught'
  'L11#src/group/limit.rs#s/let free = self.running < max && self.queued.is_empty\(\) && self.waiters.is_empty\(\);/let free = self.running < max;/#loom_group_limit#escape'
)

selected=("$@")
wanted() {
  [ ${#selected[@]} -eq 0 ] && return 0
  local id
  for id in "${selected[@]}"; do [ "$id" = "$1" ] && return 0; done
  return 1
}

backup=$(mktemp -d)
# The file under mutation, if any (kept apart from the loop's `file`, which the rows
# that are not selected also set).
mutated=
restore() {
  if [ -n "$mutated" ]; then cp "$backup/orig" "$mutated"; fi
  mutated=
}
trap 'restore; rm -rf "$backup"' EXIT

unexpected=0
for row in "${rows[@]}"; do
  IFS='#' read -r id file subst model expect <<<"$row"
  wanted "$id" || continue
  cp "$file" "$backup/orig"
  mutated=$file
  perl -0pi -e "$subst" "$file"
  if cmp -s "$file" "$backup/orig"; then
    echo "$id: the mutation no longer applies to $file: update the table" >&2
    unexpected=$((unexpected + 1))
    mutated=
    continue
  fi
  log="target/loom-mutate-$id.log"
  mkdir -p target
  RUSTFLAGS="--cfg pride_loom" LOOM_MAX_PREEMPTIONS=2 \
    cargo test --release --target-dir target/loom --test "$model" >"$log" 2>&1
  status=$?
  restore
  if grep -q '^error: could not compile' "$log"; then
    echo "$id: did not build (see $log)"
    unexpected=$((unexpected + 1))
  elif [ $status -ne 0 ]; then
    # A model that deadlocks may abort the test process before the summary.
    failed=$(grep -E '^test .* FAILED$' "$log" | sed 's/^test //; s/ \.\.\. FAILED$//' | tr '\n' ' ')
    echo "$id: CAUGHT by $model: ${failed:-the test process aborted (see $log)}"
    [ "$expect" = caught ] || echo "$id: (the table expects an escape: update it)"
  else
    echo "$id: ESCAPED $model (expected: $expect)"
    [ "$expect" = escape ] || unexpected=$((unexpected + 1))
  fi
done
[ $unexpected -eq 0 ]
