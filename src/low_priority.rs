//! Threads at the lowest CPU priority, for work that must take only the CPU that
//! writers leave: change stream batches. A thousand streams on a collection that is
//! being written are a thousand renderings of every write; run among the writers'
//! commands they would take the CPU from them (and hundreds of threads of the blocking
//! pool with it). Here they queue for a few threads the kernel schedules last: when
//! the machine is idle a stream gets its events at once, when it is busy the streams
//! fall behind and catch up in larger batches, and the writers go on.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

type Job = Box<dyn FnOnce() + Send>;

/// A pool of threads at the lowest priority; they end when it is dropped.
pub struct LowPriority {
    jobs: Mutex<mpsc::Sender<Job>>,
}

impl LowPriority {
    /// A pool of `threads` threads (at least one).
    pub fn new(threads: usize) -> std::io::Result<LowPriority> {
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for n in 0..threads.max(1) {
            let receiver = receiver.clone();
            std::thread::Builder::new().name(format!("low-priority-{n}")).spawn(move || {
                lower_this_thread();
                loop {
                    let job = match receiver.lock().unwrap_or_else(|p| p.into_inner()).recv() {
                        Ok(job) => job,
                        Err(_) => return,
                    };
                    job();
                }
            })?;
        }
        Ok(LowPriority { jobs: Mutex::new(sender) })
    }

    /// A pool with a thread per core.
    pub fn per_core() -> std::io::Result<LowPriority> {
        LowPriority::new(std::thread::available_parallelism().map_or(2, usize::from))
    }

    /// Runs `work` on the pool; `Err` with the panic's message if it panicked.
    pub async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(work)).map_err(|panic| {
                panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic".into())
            });
            let _ = done.send(outcome);
        });
        if self.jobs.lock().unwrap_or_else(|p| p.into_inner()).send(job).is_err() {
            return Err("the low-priority threads have ended".into());
        }
        result.await.unwrap_or_else(|_| Err("the low-priority job was dropped".into()))
    }
}

/// Gives the calling thread the lowest scheduling priority: Linux's `SCHED_IDLE`
/// policy (on Linux scheduling is per thread), under which any other thread that
/// wakes takes the CPU at once. Lowering one's own priority needs no privilege; if
/// it fails anyway the thread runs at normal priority.
pub fn lower_this_thread() {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: pid 0 is the calling thread, and `param` outlives the call.
        let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) };
        if rc != 0 {
            tracing::warn!(error = %std::io::Error::last_os_error(), "cannot lower a thread's priority");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_work_and_reports_panics() {
        let pool = LowPriority::new(2).expect("pool");
        assert_eq!(pool.run(|| 6 * 7).await, Ok(42));
        let panicked = pool.run(|| -> i32 { panic!("boom") }).await;
        assert_eq!(panicked, Err("boom".to_string()));
        // The pool survives a panic.
        assert_eq!(pool.run(|| 1).await, Ok(1));
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn its_threads_run_at_the_lowest_priority() {
        let pool = LowPriority::new(1).expect("pool");
        // SAFETY: pid 0 is the calling thread.
        let policy = pool.run(|| unsafe { libc::sched_getscheduler(0) }).await;
        assert_eq!(policy, Ok(libc::SCHED_IDLE));
    }
}
