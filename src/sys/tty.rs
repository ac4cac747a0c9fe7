//! Terminal ioctls nix has no safe wrapper for: the window size.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// `ioctl(fd, TIOCGWINSZ)`: the terminal's window size.
pub fn window_size(fd: BorrowedFd<'_>) -> io::Result<libc::winsize> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `struct winsize` to the pointer, which points to a live
    // local of that type.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(ws)
}

/// `ioctl(fd, TIOCSWINSZ, ws)`: set the terminal's window size.
pub fn set_window_size(fd: BorrowedFd<'_>, ws: &libc::winsize) -> io::Result<()> {
    // SAFETY: TIOCSWINSZ reads one `struct winsize` from the pointer, which points to a live
    // value of that type.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, std::ptr::from_ref(ws)) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
