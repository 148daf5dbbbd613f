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
