//! The open loop's pacer: releases one slot of the shared schedule at each due time, and
//! records when it did, so a latency can be read from the due time and from the release.
//!
//! Where it runs decides how much of the tool's own delay lands in every latency. tokio's
//! timer wakes on whole milliseconds, far too coarse. A thread sleeping to each due time is
//! precise, but it wakes a parked runtime thread for every slot: at a fifth of a millisecond
//! per request, that wake-up was a quarter of the figure (docs/benchmarks.md). On Linux the
//! pacer is a task on the runtime waiting on a `timerfd`: the kernel wakes the runtime thread
//! at the nanosecond the slot is due, and the worker the slot goes to runs on that same thread.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::schedule::Schedule;

/// The open loop's shared schedule: one permit is released at each slot's due time; the
/// worker that takes the k-th permit sends the k-th request. A semaphore wakes exactly one
/// idle worker per slot (a shared channel receiver behind a lock woke two).
pub(crate) struct Slots {
    pub(crate) released: Semaphore,
    pub(crate) next: AtomicU64,
    pub(crate) schedule: Schedule,
    /// When the pacer released slot `n`, in nanoseconds after `origin`, at `n % RELEASES`.
    /// A ring: the pacer runs at most the backlog of unsent requests ahead of the workers,
    /// far fewer than its length at any rate a step can sustain.
    released_at: Box<[AtomicU64]>,
    origin: Instant,
}

const RELEASES: usize = 1 << 20;

impl Slots {
    pub(crate) fn new(schedule: Schedule) -> Slots {
        Slots {
            released: Semaphore::new(0),
            next: AtomicU64::new(0),
            schedule,
            released_at: (0..RELEASES).map(|_| AtomicU64::new(0)).collect(),
            origin: Instant::now(),
        }
    }

    fn release(&self, slot: u64) {
        let nanos = u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.released_at[slot as usize % RELEASES].store(nanos, Ordering::Release);
        self.released.add_permits(1);
    }

    /// When slot `n` was released; its due time if not recorded (cannot happen: a worker
    /// takes slot `n` only after `n + 1` permits were released).
    pub(crate) fn released(&self, slot: u64) -> Instant {
        match self.released_at[slot as usize % RELEASES].load(Ordering::Acquire) {
            0 => self.schedule.due(slot),
            nanos => self.origin + Duration::from_nanos(nanos),
        }
    }
}

/// Starts releasing `slots` until `end`, then closes the semaphore. If every worker is busy,
/// permits wait and go out late, their latency still counted from the due time; those still
/// waiting at the end were never sent (`unsent`). Must be called within the runtime.
pub(crate) fn start(slots: Arc<Slots>, end: Instant) {
    #[cfg(target_os = "linux")]
    match timer::Timer::new() {
        Ok(timer) => {
            tokio::spawn(timer::release_slots(timer, slots, end));
            return;
        }
        Err(error) => eprintln!("ember-load: no timerfd ({error}); pacing from a thread instead"),
    }
    std::thread::spawn(move || release_slots_from_thread(&slots, end));
}

fn release_slots_from_thread(slots: &Slots, end: Instant) {
    let mut slot = 0;
    loop {
        let due = slots.schedule.due(slot);
        if due >= end {
            slots.released.close();
            return;
        }
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        slots.release(slot);
        slot += 1;
    }
}

#[cfg(target_os = "linux")]
mod timer {
    use std::io;
    use std::os::fd::{AsFd, AsRawFd, RawFd};
    use std::sync::Arc;
    use std::time::Instant;

    use nix::sys::time::TimeSpec;
    use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
    use tokio::io::unix::AsyncFd;
    use tokio::io::Interest;

    use super::Slots;

    /// A one-shot `timerfd` the runtime's reactor watches.
    pub(super) struct Timer(AsyncFd<Descriptor>);

    pub(super) struct Descriptor(TimerFd);

    impl AsRawFd for Descriptor {
        fn as_raw_fd(&self) -> RawFd {
            self.0.as_fd().as_raw_fd()
        }
    }

    impl Timer {
        pub(super) fn new() -> io::Result<Timer> {
            let descriptor = TimerFd::new(
                ClockId::CLOCK_MONOTONIC,
                TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
            )?;
            // tokio deprecated this constructor because a type may hand it a descriptor that
            // closes or changes while registered; `Descriptor` owns its timerfd, always returns
            // it and closes it only when dropped with the `AsyncFd`. The replacement is an
            // `unsafe fn`, and the workspace forbids unsafe code.
            #[allow(deprecated)]
            let registered = AsyncFd::with_interest(Descriptor(descriptor), Interest::READABLE)?;
            Ok(Timer(registered))
        }

        /// Waits until `deadline` (returns at once if it has passed).
        async fn sleep_until(&self, deadline: Instant) -> io::Result<()> {
            let wait = deadline.saturating_duration_since(Instant::now());
            if wait.is_zero() {
                return Ok(());
            }
            let timerfd = &self.0.get_ref().0;
            timerfd.set(
                Expiration::OneShot(TimeSpec::from(wait)),
                TimerSetTimeFlags::empty(),
            )?;
            let mut expirations = [0_u8; 8];
            loop {
                let mut ready = self.0.readable().await?;
                // Readiness may be left over from the previous wait: the read then finds the
                // timer not yet expired, `try_io` clears the stale readiness, and we wait again.
                match ready.try_io(|_| Ok(nix::unistd::read(timerfd.as_fd(), &mut expirations)?)) {
                    Ok(read) => return read.map(drop),
                    Err(_would_block) => continue,
                }
            }
        }
    }

    pub(super) async fn release_slots(timer: Timer, slots: Arc<Slots>, end: Instant) {
        let mut slot = 0;
        loop {
            let due = slots.schedule.due(slot);
            if due >= end {
                break;
            }
            if let Err(error) = timer.sleep_until(due).await {
                // The step still ends: workers stop at `end` whatever the pacer does.
                eprintln!(
                    "ember-load: the pacing timer failed ({error}); no more requests are released"
                );
                break;
            }
            slots.release(slot);
            slot += 1;
        }
        slots.released.close();
    }
}
