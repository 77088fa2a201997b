//! The open-file limit: one descriptor per connection, raised to the hard limit when needed.

use super::LoadError;

/// File descriptors the generator keeps for itself beyond one per connection (runtime,
/// standard streams, the caller's own files).
pub const FD_MARGIN: u64 = 64;

/// Makes sure this process may open `connections` sockets plus [`FD_MARGIN`] files: when the
/// soft `RLIMIT_NOFILE` is lower, raises it to the hard limit (and the hard limit itself
/// when the process may, as root may). Returns the soft limit now in force.
///
/// # Errors
///
/// [`LoadError::FdLimit`] when even the hard limit is too low (or the soft one cannot be
/// raised); the message says how to raise it.
pub fn ensure_fd_limit(connections: usize) -> Result<u64, LoadError> {
    let needed = (connections as u64).saturating_add(FD_MARGIN);
    let Some((soft, hard)) = open_file_limits() else {
        // The limit cannot be read; connects will fail and be counted if it is too low.
        return Ok(needed);
    };
    if soft == libc::RLIM_INFINITY || soft >= needed {
        return Ok(soft);
    }
    // A privileged process (CAP_SYS_RESOURCE, e.g. root) may raise the hard limit too, up
    // to the kernel's fs.nr_open; elsewhere this fails and the hard limit stays the bound.
    let hard = if hard != libc::RLIM_INFINITY && hard < needed {
        let raised = libc::rlimit {
            rlim_cur: soft,
            rlim_max: needed,
        };
        // SAFETY: setrlimit only reads the struct we pass, which lives for the call.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raw const raised) } == 0 {
            needed
        } else {
            hard
        }
    } else {
        hard
    };
    let target = if hard == libc::RLIM_INFINITY {
        needed
    } else {
        hard
    };
    let raised = libc::rlimit {
        rlim_cur: target,
        rlim_max: hard,
    };
    // SAFETY: setrlimit only reads the struct we pass, which lives for the call.
    let ok = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raw const raised) } == 0;
    let now = if ok { target } else { soft };
    if now >= needed {
        Ok(now)
    } else {
        Err(LoadError::FdLimit {
            connections,
            needed,
            limit: now,
        })
    }
}

/// The soft and hard `RLIMIT_NOFILE` of this process, `None` when they cannot be read.
/// `u64::MAX` stands for no limit.
#[must_use]
pub fn open_file_limits() -> Option<(u64, u64)> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct we pass, which lives for the call.
    (unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &raw mut limit) } == 0)
        .then_some((limit.rlim_cur, limit.rlim_max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raises_the_open_file_limit_or_says_how() {
        assert!(ensure_fd_limit(10).unwrap() >= 10 + FD_MARGIN);

        let error = ensure_fd_limit(usize::MAX / 4).unwrap_err();

        assert!(matches!(error, LoadError::FdLimit { .. }), "{error:?}");
        assert!(error.to_string().contains("ulimit -n"), "{error}");
    }
}
