//! Bulk work (reading, checking, hashing and spooling uploads; rendering Markdown) runs on a few
//! threads of their own at a lower CPU priority (nice 10), instead of on the shared blocking pool.
//! On a busy two-core machine the threads that answer requests, the SQLite readers and the
//! database writer then get the processor first: an upload takes longer while comments and
//! health checks keep their pace (without this, four uploads at once made them wait hundreds of
//! milliseconds). Bulk work queues for these threads; it holds its share of the memory budget
//! while it waits, so the queue cannot grow memory.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;

use crate::priority;

/// Threads doing bulk work.
const THREADS: usize = 4;

type Task = Box<dyn FnOnce() + Send>;

static QUEUE: OnceLock<Mutex<mpsc::Sender<Task>>> = OnceLock::new();

fn queue() -> &'static Mutex<mpsc::Sender<Task>> {
    QUEUE.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Task>();
        let rx = Arc::new(Mutex::new(rx));
        for n in 0..THREADS {
            let rx = rx.clone();
            let spawned = thread::Builder::new()
                .name(format!("bulk-{n}"))
                .spawn(move || {
                    priority::lower_this_thread("a bulk thread");
                    loop {
                        let next = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                        match next {
                            // A panicking task drops its answer; the thread goes on.
                            Ok(task) => drop(catch_unwind(AssertUnwindSafe(task))),
                            Err(_) => break,
                        }
                    }
                });
            if let Err(e) = spawned {
                log::error!("could not start a bulk thread: {e}");
            }
        }
        Mutex::new(tx)
    })
}

/// The task panicked, or no bulk thread could run it.
#[derive(Debug)]
pub struct Lost;

impl std::fmt::Display for Lost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the bulk task did not finish (it panicked, or no thread could run it)")
    }
}

/// Runs `f` on a bulk thread and waits for it.
pub async fn run<T, F>(f: F) -> Result<T, Lost>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    let task: Task = Box::new(move || {
        let _ = tx.send(f());
    });
    queue()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .send(task)
        .map_err(|_| Lost)?;
    rx.await.map_err(|_| Lost)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tasks_run_at_a_lower_priority_and_a_panic_loses_only_its_own_answer() {
        let nice = run(|| rustix::process::getpriority_process(Some(rustix::thread::gettid())))
            .await
            .expect("ran")
            .expect("read the priority");
        assert_eq!(nice, priority::BACKGROUND_NICE);
        assert!(run(|| -> u8 { panic!("a task fails") }).await.is_err());
        assert_eq!(run(|| 2 + 2).await.expect("the pool goes on"), 4);
    }
}
