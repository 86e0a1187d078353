//! The few OS calls the standard library lacks. This is the only module
//! with `unsafe`: each call is a plain libc function on values we own.
#![allow(unsafe_code)]

use std::ffi::CStr;
use std::net::{IpAddr, SocketAddr};

/// Detaches from the terminal like knockd (`daemon(0, 0)`): fork, the parent
/// exits, the child starts a new session, chdir `/`, stdio to /dev/null.
/// Call before any thread is started.
pub fn daemonize() -> std::io::Result<()> {
    // SAFETY: no threads exist yet (documented precondition); daemon(3)
    // only forks, calls setsid, chdir and dup2.
    let rc = unsafe { libc::daemon(0, 0) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The effective user id of this process.
pub fn euid() -> u32 {
    // SAFETY: geteuid(2) takes nothing and cannot fail.
    unsafe { libc::geteuid() }
}

/// Sends SIGKILL to the process group `pgid` (a command and its children).
pub fn kill_group(pgid: u32) -> std::io::Result<()> {
    let Ok(pid) = libc::pid_t::try_from(pgid) else {
        return Err(std::io::Error::other("pid out of range"));
    };
    if pid <= 1 {
        return Err(std::io::Error::other("refusing to signal pid <= 1"));
    }
    // SAFETY: kill(2) with a negative pid signals that process group.
    let rc = unsafe { libc::kill(-pid, libc::SIGKILL) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Reverse DNS name of `ip` (for `-l`), or `None`.
pub fn reverse_lookup(ip: IpAddr) -> Option<String> {
    let sa = SocketAddr::new(ip, 0);
    let mut host = [0 as libc::c_char; 1025];
    let rc = match sa {
        SocketAddr::V4(v4) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: 0,
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(v4.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sin is a valid sockaddr_in for its size; host is a
            // writable buffer of the given length.
            unsafe {
                libc::getnameinfo(
                    (&sin as *const libc::sockaddr_in).cast(),
                    std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                    host.as_mut_ptr(),
                    host.len() as libc::socklen_t,
                    std::ptr::null_mut(),
                    0,
                    libc::NI_NAMEREQD,
                )
            }
        }
        SocketAddr::V6(v6) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: 0,
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.ip().octets(),
                },
                sin6_scope_id: 0,
            };
            // SAFETY: as above, for sockaddr_in6.
            unsafe {
                libc::getnameinfo(
                    (&sin6 as *const libc::sockaddr_in6).cast(),
                    std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
                    host.as_mut_ptr(),
                    host.len() as libc::socklen_t,
                    std::ptr::null_mut(),
                    0,
                    libc::NI_NAMEREQD,
                )
            }
        }
    };
    if rc != 0 {
        return None;
    }
    // SAFETY: getnameinfo NUL-terminates host on success.
    let name = unsafe { CStr::from_ptr(host.as_ptr()) };
    name.to_str().ok().map(str::to_string)
}

/// Waits until `fd` is readable or `timeout_ms` passes (or a signal
/// arrives). Returns whether it is readable.
pub fn wait_readable(fd: std::os::fd::RawFd, timeout_ms: i32) -> std::io::Result<bool> {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the duration of the call.
    let rc = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
    if rc < 0 {
        let e = std::io::Error::last_os_error();
        if e.kind() == std::io::ErrorKind::Interrupted {
            return Ok(false);
        }
        return Err(e);
    }
    Ok(rc > 0)
}
