//! The caller's terminal, when tooljail's stdin, stdout or stderr is one: the command is given
//! it as its stdio (it has no controlling terminal: setsid), so it can change the terminal's
//! settings (`stty intr ^A -echo`, raw mode) and window size, and those changes would outlive
//! the jail. tooljail saves the settings and size of every terminal on its stdio before the
//! jail is built and puts them back when the jail has ended, if the command changed them. The
//! ioctls that change a terminal in other ways (line discipline TIOCSETD, exclusive mode
//! TIOCEXCL, console redirection TIOCCONS, keystroke injection TIOCSTI/TIOCLINUX) are refused by
//! the seccomp filter (`tty-injection`).
//!
//! What this does not do: give the command a terminal of its own (a pty relayed by the
//! supervisor, as `su --pty` does). During the run the command shares the caller's terminal,
//! and a window resized by the user during the run is set back to its old size at the end
//! (the next resize corrects it). A pipe or file on stdio is untouched: nothing is saved.

use nix::sys::termios::{self, SetArg, Termios};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

/// One terminal's saved state, and a descriptor of it (close-on-exec, never inherited by the
/// jail: pid 1 and the command close every fd above 2).
struct Saved {
    fd: OwnedFd,
    termios: Termios,
    size: Option<libc::winsize>,
}

/// The terminals on stdio, as they were before the jail.
pub struct Terminal {
    saved: Vec<Saved>,
}

/// Save the settings and window size of every distinct terminal among fds 0, 1 and 2.
pub fn save() -> Terminal {
    let mut seen = Vec::new();
    let mut saved = Vec::new();
    let (stdin, stdout, stderr) = (std::io::stdin(), std::io::stdout(), std::io::stderr());
    let stdio = [stdin.as_fd(), stdout.as_fd(), stderr.as_fd()];
    for fd in stdio {
        let Ok(st) = nix::sys::stat::fstat(fd.as_raw_fd()) else {
            continue;
        };
        if st.st_mode & libc::S_IFMT != libc::S_IFCHR || seen.contains(&st.st_rdev) {
            continue;
        }
        // F_DUPFD_CLOEXEC, above 2.
        let Ok(dup) = fd.try_clone_to_owned() else {
            continue;
        };
        // Not a terminal (tcgetattr: ENOTTY): /dev/null and other character devices.
        let Ok(termios) = termios::tcgetattr(dup.as_fd()) else {
            continue;
        };
        seen.push(st.st_rdev);
        let size = crate::sys::tty::window_size(dup.as_fd()).ok();
        saved.push(Saved {
            fd: dup,
            termios,
            size,
        });
    }
    Terminal { saved }
}

impl Terminal {
    /// Put back what the command changed. Each failure is a warning (the run's outcome stands).
    /// SIGTTOU is blocked meanwhile: tooljail may be in a background process group, where
    /// changing the terminal would otherwise stop it.
    pub fn restore(mut self) -> Vec<String> {
        self.restore_all()
    }

    fn restore_all(&mut self) -> Vec<String> {
        use nix::sys::signal::{SigSet, SigmaskHow, Signal};
        let mut warnings = Vec::new();
        if self.saved.is_empty() {
            return warnings;
        }
        let mut ttou = SigSet::empty();
        ttou.add(Signal::SIGTTOU);
        let mut old = SigSet::empty();
        let blocked =
            nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&ttou), Some(&mut old));
        for s in self.saved.drain(..) {
            let fd = s.fd.as_fd();
            let now = termios::tcgetattr(fd).ok();
            if now.as_ref() != Some(&s.termios) {
                if let Err(e) = termios::tcsetattr(fd, SetArg::TCSANOW, &s.termios) {
                    warnings.push(format!(
                        "could not restore the terminal's settings the command changed: {}; \
                         run `stty sane`",
                        e.desc()
                    ));
                }
            }
            if let Some(size) = s.size {
                let changed = crate::sys::tty::window_size(fd).ok().is_none_or(|n| {
                    (n.ws_row, n.ws_col, n.ws_xpixel, n.ws_ypixel)
                        != (size.ws_row, size.ws_col, size.ws_xpixel, size.ws_ypixel)
                });
                if changed {
                    if let Err(e) = crate::sys::tty::set_window_size(fd, &size) {
                        warnings.push(format!(
                            "could not restore the terminal's window size the command changed: \
                             {e}; resize the window"
                        ));
                    }
                }
            }
        }
        if blocked.is_ok() {
            let _ = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
        }
        warnings
    }
}

impl Drop for Terminal {
    /// A run that ended in an error still gives the terminal back.
    fn drop(&mut self) {
        for w in self.restore_all() {
            crate::shown::warn(&w);
        }
    }
}
