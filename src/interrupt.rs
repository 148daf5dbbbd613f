//! Ctrl-C and SIGTERM: the first asks the run to stop at the next safe point (between
//! phases, or inside a wait), so the command can say what was done and what was not. A
//! run that does not reach such a point within [`GRACE`] (blocked in a system call, a
//! slow server, a long computation) is ended then, saying which phases finished, as
//! upstream's kubeadm ends at once on the first signal; a second signal ends the process
//! at once. Every file kubeadm writes is written atomically, so however it ends, nothing
//! is left half-written.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// How long the first signal waits for the run to stop by itself.
pub const GRACE: Duration = Duration::from_millis(1500);

/// The signal received first, 0 while none.
static SIGNAL: AtomicI32 = AtomicI32::new(0);
/// Set once the run itself reported the stop (so the fallback report is not printed too).
static REPORTED: AtomicBool = AtomicBool::new(false);
/// The phases finished so far and the one under way, for the report of a forced stop.
static PHASES: Mutex<Progress> = Mutex::new(Progress {
    done: Vec::new(),
    current: None,
});

struct Progress {
    done: Vec<String>,
    current: Option<String>,
}

/// Records that a phase started (for the report of a stop the phase did not reach).
pub fn phase_started(path: &str) {
    if let Ok(mut p) = PHASES.lock() {
        p.current = Some(path.to_string());
    }
}

/// Records that a phase finished.
pub fn phase_finished(path: &str) {
    if let Ok(mut p) = PHASES.lock() {
        p.current = None;
        p.done.push(path.to_string());
    }
}

/// Says that the run reported its own stop; the process is about to end.
pub fn stop_reported() {
    REPORTED.store(true, Ordering::SeqCst);
}

/// Routes SIGINT and SIGTERM to [`requested`]: both are blocked in every thread (call
/// this before any thread starts; programs kubeadm runs start with them unblocked) and
/// one thread waits for them.
pub fn install() {
    // SAFETY: the set lives on this stack across each call; the calls only read it.
    unsafe {
        let set = signal_set();
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
    let _ = std::thread::Builder::new()
        .name("signals".into())
        .spawn(watch);
}

fn signal_set() -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the set before sigaddset reads it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        set
    }
}

/// The signal thread: the first signal asks for a stop; after [`GRACE`] without the run
/// ending, or at a second signal, the process ends.
fn watch() {
    let set = signal_set();
    let mut first = 0;
    // SAFETY: sigwait writes the signal number into `first`.
    while unsafe { libc::sigwait(&set, &mut first) } != 0 {}
    SIGNAL.store(first, Ordering::SeqCst);
    let timeout = libc::timespec {
        tv_sec: GRACE.as_secs() as libc::time_t,
        tv_nsec: GRACE.subsec_nanos() as libc::c_long,
    };
    // SAFETY: sigtimedwait reads the set and the timeout, and may write nothing else.
    let second = unsafe { libc::sigtimedwait(&set, std::ptr::null_mut(), &timeout) };
    if second > 0 {
        // SAFETY: _exit ends the process without running anything else.
        unsafe { libc::_exit(128 + second) };
    }
    if !REPORTED.load(Ordering::SeqCst) {
        let (done, current) = match PHASES.lock() {
            Ok(p) => (p.done.join(", "), p.current.clone()),
            Err(_) => (String::new(), None),
        };
        let name = signal_name(first);
        match current {
            None if done.is_empty() => {
                eprintln!("error: stopped by {name}; every file written is complete")
            }
            _ => eprintln!(
                "error: stopped by {name}{}: phases done: [{done}]. Every file written is complete; run the same command again to finish (what is done is reused), or 'kubeadm reset' to undo",
                current.map(|c| format!(" during {c}")).unwrap_or_default()
            ),
        }
    }
    // SAFETY: as above.
    unsafe { libc::_exit(128 + first) };
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        _ => "a signal",
    }
}

/// The signal that asked the run to stop, if one did.
pub fn requested() -> Option<&'static str> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        s => Some(signal_name(s)),
    }
}

/// The exit code for a run stopped by the signal: 128 plus its number, as shells report.
pub fn exit_code() -> Option<u8> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        s => u8::try_from(128 + s).ok(),
    }
}

/// A run stopped on request.
#[derive(Debug, thiserror::Error)]
#[error("interrupted by {0}")]
pub struct Interrupted(pub &'static str);

impl From<Interrupted> for String {
    fn from(e: Interrupted) -> String {
        e.to_string()
    }
}

/// Fails with [`Interrupted`] once a stop was asked for.
pub fn check() -> Result<(), Interrupted> {
    match requested() {
        Some(s) => Err(Interrupted(s)),
        None => Ok(()),
    }
}

/// Sleeps `d`, waking early (with [`Interrupted`]) when a stop is asked for.
pub fn sleep(d: Duration) -> Result<(), Interrupted> {
    let step = Duration::from_millis(20);
    let end = std::time::Instant::now() + d;
    loop {
        check()?;
        let now = std::time::Instant::now();
        if now >= end {
            return Ok(());
        }
        std::thread::sleep(step.min(end - now));
    }
}

/// The pauses of a wait loop: 10 ms at first, doubling up to 100 ms, so a wait ends
/// within 100 ms of its condition becoming true however long it has lasted (what is
/// polled is a local health endpoint or one API read: ten a second cost next to nothing).
/// Each pause wakes early on Ctrl-C or SIGTERM.
#[derive(Debug)]
pub struct Poll {
    next: Duration,
}

/// The longest pause of a [`Poll`].
pub const MAX_POLL_PAUSE: Duration = Duration::from_millis(100);

impl Default for Poll {
    fn default() -> Self {
        Poll {
            next: Duration::from_millis(10),
        }
    }
}

impl Poll {
    /// A fresh wait.
    pub fn new() -> Self {
        Self::default()
    }

    /// The pause the next [`Poll::pause`] takes.
    pub fn next_pause(&self) -> Duration {
        self.next
    }

    /// Sleeps the next pause.
    pub fn pause(&mut self) -> Result<(), Interrupted> {
        sleep(self.next)?;
        self.next = (self.next * 2).min(MAX_POLL_PAUSE);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polls_start_short_and_stay_within_100_ms() {
        let mut p = Poll::new();
        let mut seen = Vec::new();
        for _ in 0..6 {
            seen.push(p.next_pause());
            p.pause().unwrap();
        }
        assert_eq!(
            seen,
            [10, 20, 40, 80, 100, 100]
                .map(Duration::from_millis)
                .to_vec()
        );
    }
}
