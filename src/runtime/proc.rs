//! Local processes from /proc: CPU time (the generator's own, and the local runtime's
//! process trees), and which process listens on a port.

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

/// A process on this host that listens on a TCP port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortHolder {
    pub pid: u32,
    /// Its command line, shortened.
    pub command: String,
}

impl std::fmt::Display for PortHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pid {}: {}", self.pid, self.command)
    }
}

/// The process listening on TCP `port` (any address, IPv4 or IPv6), read from
/// /proc/net/tcp{,6} and the processes' open sockets. `None` when nothing listens, or when
/// the owner cannot be read (another user's process, without root).
pub fn port_holder(port: u16) -> Option<PortHolder> {
    let inodes: Vec<u64> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .flat_map(|table| listening_inodes(&table, port))
        .collect();
    if inodes.is_empty() {
        return None;
    }
    let wanted: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        let holds = fds.flatten().any(|fd| {
            std::fs::read_link(fd.path())
                .ok()
                .and_then(|link| link.to_str().map(|l| wanted.iter().any(|w| w == l)))
                .unwrap_or(false)
        });
        if holds {
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let command: String = String::from_utf8_lossy(&cmdline)
                .split('\0')
                .filter(|part| !part.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            let command = if command.chars().count() > 80 {
                format!("{}…", command.chars().take(80).collect::<String>())
            } else if command.is_empty() {
                "(no command line)".into()
            } else {
                command
            };
            return Some(PortHolder { pid, command });
        }
    }
    None
}

/// The processes on this host holding the server side of the TCP connection from
/// `client_port` to `server_port` on loopback: which worker of a multi-process target
/// took that connection (a container on host networking shares this host's tables). Empty
/// when the connection is gone or its owner cannot be read (another user's, without root).
pub fn connection_owners(server_port: u16, client_port: u16) -> Vec<u32> {
    let inodes: Vec<u64> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .flat_map(|table| connection_inodes(&table, server_port, client_port))
        .collect();
    if inodes.is_empty() {
        return Vec::new();
    }
    let wanted: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let fds = std::fs::read_dir(entry.path().join("fd")).ok()?;
            fds.flatten()
                .any(|fd| {
                    std::fs::read_link(fd.path())
                        .ok()
                        .and_then(|link| link.to_str().map(|l| wanted.iter().any(|w| w == l)))
                        .unwrap_or(false)
                })
                .then_some(pid)
        })
        .collect()
}

/// The inodes of the server-side sockets of connections from `client_port` to
/// `server_port` in a /proc/net/tcp{,6} table (the entry whose local port is the server's).
fn connection_inodes(table: &str, server_port: u16, client_port: u16) -> Vec<u64> {
    let port_of = |address: &str| {
        let (_, port) = address.rsplit_once(':')?;
        u16::from_str_radix(port, 16).ok()
    };
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local = port_of(fields.get(1)?)?;
            let remote = port_of(fields.get(2)?)?;
            (local == server_port && remote == client_port).then(|| fields.get(9)?.parse().ok())?
        })
        .filter(|inode| *inode != 0)
        .collect()
}

/// The inodes of the sockets listening on `port` in a /proc/net/tcp{,6} table.
fn listening_inodes(table: &str, port: u16) -> Vec<u64> {
    const LISTEN: &str = "0A";
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (_, local_port) = fields.get(1)?.rsplit_once(':')?;
            let listening = *fields.get(3)? == LISTEN;
            (listening && u16::from_str_radix(local_port, 16).ok()? == port)
                .then(|| fields.get(9)?.parse().ok())?
        })
        .collect()
}

/// The process group of `pid`, from /proc/PID/stat.
pub fn process_group(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    // state, ppid, pgrp: the third field after the name.
    rest.split_whitespace().nth(2)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_sockets_are_found_by_port_and_state() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0\n   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 4343 1 0\n   2: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4444 1 0\n";
        assert_eq!(listening_inodes(table, 8080), [4242]);
        assert_eq!(listening_inodes(table, 80), [4444]);
        assert!(listening_inodes(table, 81).is_empty());
    }

    #[test]
    fn a_connection_is_found_by_its_server_and_client_ports() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0\n   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 4343 1 0\n   2: 0100007F:C350 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 4444 1 0\n";
        assert_eq!(connection_inodes(table, 8080, 50000), [4343]);
        assert!(connection_inodes(table, 8080, 50001).is_empty());
    }

    #[test]
    fn the_owner_of_a_connection_this_process_accepted_is_this_process() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (_accepted, _) = listener.accept().unwrap();
        let client_port = client.local_addr().unwrap().port();
        assert_eq!(connection_owners(port, client_port), [std::process::id()]);
    }

    #[test]
    fn the_holder_of_a_port_this_process_listens_on_is_this_process() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let holder = port_holder(port).expect("this process holds the port");
        assert_eq!(holder.pid, std::process::id());
        drop(listener);
        assert_eq!(port_holder(port), None);
    }

    #[test]
    fn cpu_ticks_are_read_after_a_command_name_with_spaces() {
        let stat = "42 (node (worker) x) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1";
        assert_eq!(stat_cpu_ticks(stat), 300);
        assert_eq!(stat_cpu_ticks("garbage"), 0);
    }
}
