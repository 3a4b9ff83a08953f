//! Work that must take little of the CPU writers need: change stream batches. A
//! thousand streams on a collection that is being written are a thousand renderings
//! of every write; run among the writers' commands they would take the CPU from them
//! (and hundreds of threads of the blocking pool with it).
//!
//! Work that keeps up (a stream's batch after it waited for a write) gets an
//! allowance of [`SHARE`] of the machine's CPU at normal priority: a few streams
//! then get their events as fast as any command runs. Beyond it, and for work that
//! is behind anyway (a stream with history to catch up on), it queues for threads
//! the kernel schedules last (`SCHED_IDLE`, one per two cores): when the machine is idle they
//! run at once, when it is busy the streams fall behind and catch up in larger
//! batches, and the writers go on.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Job = Box<dyn FnOnce() + Send>;

/// The share of the machine's CPU time the work may take at normal priority.
pub const SHARE: f64 = 0.02;
/// The most of the allowance that accumulates while no work comes.
const BURST: Duration = Duration::from_millis(20);

/// A pool of threads at the lowest priority, and the allowance at normal priority;
/// the threads end when it is dropped.
pub struct LowPriority {
    jobs: Mutex<mpsc::Sender<Job>>,
    allowance: Arc<Allowance>,
}

/// CPU time the work may take at normal priority: a bucket that fills at
/// [`SHARE`] of the cores' time, up to [`BURST`]; one job at a time runs from it
/// (a thousand streams woken by one write would otherwise all find it full) and
/// takes out its duration.
struct Allowance {
    /// Seconds of CPU per second.
    rate: f64,
    state: Mutex<Bucket>,
}

struct Bucket {
    filled: Instant,
    /// Seconds (below zero: owed).
    holds: f64,
    /// Whether a job runs from it now.
    taken: bool,
}

impl Allowance {
    fn new(cores: usize) -> Allowance {
        let bucket = Bucket { filled: Instant::now(), holds: BURST.as_secs_f64(), taken: false };
        Allowance { rate: SHARE * cores as f64, state: Mutex::new(bucket) }
    }

    /// Whether a job may run at normal priority now; if so, [`Allowance::spend`]
    /// must follow.
    fn take(&self) -> bool {
        let mut bucket = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let filled = bucket.holds + now.duration_since(bucket.filled).as_secs_f64() * self.rate;
        (bucket.filled, bucket.holds) = (now, filled.min(BURST.as_secs_f64()));
        let free = bucket.holds > 0.0 && !bucket.taken;
        bucket.taken |= free;
        free
    }

    fn spend(&self, took: Duration) {
        let mut bucket = self.state.lock().unwrap_or_else(|p| p.into_inner());
        bucket.holds -= took.as_secs_f64();
        bucket.taken = false;
    }
}

impl LowPriority {
    /// A pool of `threads` threads (at least one), with an allowance at normal
    /// priority of [`SHARE`] of as many cores.
    pub fn new(threads: usize) -> std::io::Result<LowPriority> {
        LowPriority::with_allowance_of(threads, threads)
    }

    /// A pool of `threads` threads (at least one), with an allowance at normal
    /// priority of [`SHARE`] of `cores` cores.
    fn with_allowance_of(threads: usize, cores: usize) -> std::io::Result<LowPriority> {
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
        Ok(LowPriority { jobs: Mutex::new(sender), allowance: Arc::new(Allowance::new(cores.max(1))) })
    }

    /// A pool with a thread per two cores (at least one), and the allowance of all
    /// of them. Even work the kernel runs only on idle cores costs writers: their
    /// caches, memory bandwidth and, on a virtual machine, a host thread that no
    /// longer rests; half the cores at most keeps that bounded.
    pub fn for_this_machine() -> std::io::Result<LowPriority> {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        LowPriority::with_allowance_of(cores.div_ceil(2), cores)
    }

    /// Runs `work` from the allowance on the blocking pool, or beyond it on the
    /// low-priority threads; `Err` with the panic's message if it panicked.
    pub async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
        self.run_as(true, work).await
    }

    /// Runs `work` on the low-priority threads only, with the CPU no other thread
    /// wants: for work that is behind, which an allowance would not make current.
    pub async fn run_spare<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
        self.run_as(false, work).await
    }

    async fn run_as<T: Send + 'static>(
        &self,
        allowed: bool,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, String> {
        if allowed && self.allowance.take() {
            let allowance = self.allowance.clone();
            let timed = move || {
                let started = Instant::now();
                let outcome = caught(work);
                allowance.spend(started.elapsed());
                outcome
            };
            return tokio::task::spawn_blocking(timed).await.unwrap_or_else(|e| Err(e.to_string()));
        }
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(caught(work));
        });
        if self.jobs.lock().unwrap_or_else(|p| p.into_inner()).send(job).is_err() {
            return Err("the low-priority threads have ended".into());
        }
        result.await.unwrap_or_else(|_| Err("the low-priority job was dropped".into()))
    }
}

/// Runs `work`, turning a panic into its message.
fn caught<T>(work: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(AssertUnwindSafe(work)).map_err(|panic| {
        panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".into())
    })
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

    /// The policy of the thread a job runs on.
    #[cfg(target_os = "linux")]
    async fn policy(pool: &LowPriority) -> Result<i32, String> {
        // SAFETY: pid 0 is the calling thread.
        pool.run(|| unsafe { libc::sched_getscheduler(0) }).await
    }

    #[cfg(target_os = "linux")]
    #[tokio::test(flavor = "multi_thread")]
    async fn work_beyond_the_allowance_runs_at_the_lowest_priority() {
        let pool = LowPriority::new(1).expect("pool");
        assert_eq!(policy(&pool).await, Ok(libc::SCHED_OTHER), "within the allowance");
        // Take more than the allowance holds: what follows waits for idle CPU.
        pool.run(|| std::thread::sleep(BURST * 3)).await.expect("sleep");
        assert_eq!(policy(&pool).await, Ok(libc::SCHED_IDLE), "beyond the allowance");
    }

    #[cfg(target_os = "linux")]
    #[tokio::test(flavor = "multi_thread")]
    async fn spare_work_never_runs_from_the_allowance() {
        let pool = LowPriority::new(1).expect("pool");
        // SAFETY: pid 0 is the calling thread.
        let spare = pool.run_spare(|| unsafe { libc::sched_getscheduler(0) }).await;
        assert_eq!(spare, Ok(libc::SCHED_IDLE));
        assert_eq!(policy(&pool).await, Ok(libc::SCHED_OTHER), "the allowance is still whole");
    }
}
