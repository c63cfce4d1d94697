//! Becoming a background service, and the pid file.
//!
//! Without `-d`/`-s` ftwall detaches like a classic daemon (the original's default, and
//! what SysV-style init scripts expect): fork, the parent exits 0, the child starts a
//! new session, moves to `/` and points its standard streams at `/dev/null`. Everything
//! that can fail at start (options, queue, sockets, files) is done before detaching, so
//! the init script still sees the error and a non-zero exit. procd (OpenWrt) and
//! systemd supervise a foreground process instead: their scripts pass `-s`.

use std::fs;
use std::io;
use std::path::Path;

/// Detaches from the terminal and the parent. Returns in the child only.
pub fn daemonize() -> io::Result<()> {
    // SAFETY: the daemon is single-threaded here, so fork leaves no lock held by a
    // thread that does not exist in the child.
    match unsafe { libc::fork() } {
        -1 => return Err(io::Error::last_os_error()),
        0 => {}
        // SAFETY: the parent leaves at once without running destructors or atexit
        // handlers that belong to the child now (the queue socket, files).
        _ => unsafe { libc::_exit(0) },
    }
    // SAFETY: plain system calls on values we own.
    unsafe {
        if libc::setsid() < 0 {
            return Err(io::Error::last_os_error());
        }
        if libc::chdir(c"/".as_ptr()) < 0 {
            return Err(io::Error::last_os_error());
        }
        libc::umask(0o022);
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null < 0 {
            return Err(io::Error::last_os_error());
        }
        for fd in 0..3 {
            libc::dup2(null, fd);
        }
        if null > 2 {
            libc::close(null);
        }
    }
    Ok(())
}

/// Writes our pid, replacing a file left by a daemon that died.
pub fn write_pidfile(path: &Path) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    fs::write(path, format!("{}\n", std::process::id()))
}

/// Removes the pid file if it is still ours.
pub fn remove_pidfile(path: &Path) {
    let ours = fs::read_to_string(path).ok().and_then(|s| s.trim().parse::<u32>().ok()) == Some(std::process::id());
    if ours {
        let _ = fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pidfile_holds_our_pid_and_only_ours_is_removed() {
        let dir = std::env::temp_dir().join(format!("ftwall-pid-{}", std::process::id()));
        let path = dir.join("sub/ftwall.pid");
        write_pidfile(&path).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), format!("{}\n", std::process::id()));
        remove_pidfile(&path);
        assert!(!path.exists());
        fs::write(&path, "1\n").unwrap();
        remove_pidfile(&path);
        assert!(path.exists(), "another process's pid file stays");
        fs::remove_dir_all(&dir).unwrap();
    }
}
