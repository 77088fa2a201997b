//! CPU time of local processes from /proc: the generator's own, and the local runtime's
//! process trees.

/// CPU time (user + system) a process has used, in nanoseconds, from /proc/PID/stat;
/// 0 when the process is gone.
pub fn process_cpu_ns(pid: i32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // SAFETY: sysconf has no preconditions.
    let ticks_per_s = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    stat_cpu_ticks(&stat) * (1_000_000_000 / ticks_per_s)
}

/// utime + stime in clock ticks from the text of /proc/PID/stat.
fn stat_cpu_ticks(stat: &str) -> u64 {
    // Fields after the command name, which may hold spaces, start after the last ')'.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of stat: indexes 11 and 12 after the name.
    field(11) + field(12)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_are_read_after_a_command_name_with_spaces() {
        let stat = "42 (node (worker) x) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1";
        assert_eq!(stat_cpu_ticks(stat), 300);
        assert_eq!(stat_cpu_ticks("garbage"), 0);
    }
}
