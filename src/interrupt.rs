//! Ctrl-C and SIGTERM: the first asks the run to stop at the next safe point (between
//! phases, or inside a wait), so the command can say what was done and what was not; a
//! second one ends the process at once (every file kubeadm writes is written atomically,
//! so even then nothing is left half-written).

use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

/// The signal received first, 0 while none.
static SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(signal: libc::c_int) {
    if SIGNAL
        .compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst)
        .is_err()
    {
        // The second signal: stop now, with the shell's code for it.
        unsafe { libc::_exit(128 + signal) };
    }
}

/// Routes SIGINT and SIGTERM to [`requested`].
pub fn install() {
    let handler: extern "C" fn(libc::c_int) = on_signal;
    for signal in [libc::SIGINT, libc::SIGTERM] {
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = handler as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

/// The signal that asked the run to stop, if one did.
pub fn requested() -> Option<&'static str> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        libc::SIGINT => Some("SIGINT"),
        libc::SIGTERM => Some("SIGTERM"),
        _ => Some("a signal"),
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

/// The pauses of a wait loop: short at first, so a wait ends within about 100 ms of its
/// condition becoming true, then longer once the wait has lasted (10 s), so a long wait
/// does not keep the machine busy. Each pause wakes early on Ctrl-C or SIGTERM.
#[derive(Debug)]
pub struct Poll {
    start: std::time::Instant,
    next: Duration,
}

impl Default for Poll {
    fn default() -> Self {
        Poll {
            start: std::time::Instant::now(),
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
        let cap = if self.start.elapsed() < Duration::from_secs(10) {
            Duration::from_millis(100)
        } else {
            Duration::from_millis(500)
        };
        self.next = (self.next * 2).min(cap);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polls_start_short_and_stay_within_100_ms_early_on() {
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
