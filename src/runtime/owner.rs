//! Which faceoff process a container belongs to, and whether that process still lives: every
//! container faceoff starts carries its owner in labels, so `faceoff clean` can spare the
//! runs still in progress (another terminal, another CI job) and `run` and `doctor` can point
//! at what dead runs left behind.
//!
//! A PID alone is not enough: PIDs are reused. The owner is the PID together with the
//! process's start time (clock ticks since boot, from /proc/PID/stat) and the host's boot id;
//! a process with that PID but another start time, or a host booted since, is not the owner.

use std::collections::HashMap;
use std::sync::OnceLock;

/// Label: the owning faceoff's PID.
pub const LABEL_PID: &str = "faceoff.pid";
/// Label: when the owning process started, in clock ticks since boot.
pub const LABEL_PID_START: &str = "faceoff.pid_start";
/// Label: the boot id of the owner's host (/proc/sys/kernel/random/boot_id).
pub const LABEL_BOOT_ID: &str = "faceoff.boot_id";
/// Label: the owner's host name.
pub const LABEL_HOST: &str = "faceoff.host";

/// The faceoff process that started a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub pid: u32,
    pub start_ticks: u64,
    pub boot_id: String,
    pub host: String,
}

/// The host a check runs on: what an owner's labels are compared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThisHost {
    pub boot_id: String,
    pub host: String,
}

impl ThisHost {
    pub fn current() -> ThisHost {
        ThisHost {
            boot_id: boot_id(),
            host: host_name(),
        }
    }
}

/// Whether an owner still runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Liveness {
    Alive,
    /// Gone, with why we know (one phrase).
    Dead(String),
    /// On another host: this one cannot tell.
    Unknown(String),
}

impl Owner {
    /// This process.
    pub fn current() -> &'static Owner {
        static CURRENT: OnceLock<Owner> = OnceLock::new();
        CURRENT.get_or_init(|| {
            let pid = std::process::id();
            Owner {
                pid,
                start_ticks: start_ticks(pid).unwrap_or(0),
                boot_id: boot_id(),
                host: host_name(),
            }
        })
    }

    /// The labels that name this owner on a container.
    pub fn labels(&self) -> [(String, String); 4] {
        [
            (LABEL_PID.into(), self.pid.to_string()),
            (LABEL_PID_START.into(), self.start_ticks.to_string()),
            (LABEL_BOOT_ID.into(), self.boot_id.clone()),
            (LABEL_HOST.into(), self.host.clone()),
        ]
    }

    /// The owner a container's labels name; `None` for a container from a faceoff that did
    /// not record it.
    pub fn from_labels(labels: &HashMap<String, String>) -> Option<Owner> {
        Some(Owner {
            pid: labels.get(LABEL_PID)?.parse().ok()?,
            start_ticks: labels.get(LABEL_PID_START)?.parse().ok()?,
            boot_id: labels.get(LABEL_BOOT_ID)?.clone(),
            host: labels.get(LABEL_HOST)?.clone(),
        })
    }

    /// Whether this owner still runs, as seen from `here`.
    pub fn liveness(&self, here: &ThisHost) -> Liveness {
        if self.host != here.host {
            return Liveness::Unknown(format!("started from host {}", self.host));
        }
        if self.boot_id != here.boot_id {
            return Liveness::Dead("the host has rebooted since".into());
        }
        match start_ticks(self.pid) {
            None => Liveness::Dead(format!("faceoff process {} is gone", self.pid)),
            Some(ticks) if ticks != self.start_ticks => Liveness::Dead(format!(
                "faceoff process {} is gone (the PID is another process's now)",
                self.pid
            )),
            Some(_) => Liveness::Alive,
        }
    }
}

/// When process `pid` started, in clock ticks since boot (field 22 of /proc/PID/stat).
pub fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat_start_ticks(&stat)
}

fn stat_start_ticks(stat: &str) -> Option<u64> {
    // Fields after the command name, which may hold spaces, start after the last ')' with
    // field 3: field 22 is index 19.
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(19)?.parse().ok()
}

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|id| id.trim().to_string())
        .unwrap_or_default()
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn here() -> ThisHost {
        ThisHost::current()
    }

    #[test]
    fn this_process_is_alive_and_its_labels_name_it_again() {
        let owner = Owner::current();
        assert!(owner.start_ticks > 0);
        let labels: HashMap<String, String> = owner.labels().into_iter().collect();
        assert_eq!(Owner::from_labels(&labels).as_ref(), Some(owner));
        assert_eq!(owner.liveness(&here()), Liveness::Alive);
    }

    #[test]
    fn a_process_that_exited_is_dead() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let start_ticks = start_ticks(pid).unwrap_or(1);
        child.wait().unwrap();
        let owner = Owner {
            pid,
            start_ticks,
            ..Owner::current().clone()
        };
        assert!(matches!(owner.liveness(&here()), Liveness::Dead(_)));
    }

    #[test]
    fn a_reused_pid_is_not_the_owner() {
        let owner = Owner {
            start_ticks: Owner::current().start_ticks + 1,
            ..Owner::current().clone()
        };
        match owner.liveness(&here()) {
            Liveness::Dead(why) => assert!(why.contains("another process"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_owner_from_before_a_reboot_is_dead_and_one_from_another_host_unknown() {
        let rebooted = Owner {
            boot_id: "an-earlier-boot".into(),
            ..Owner::current().clone()
        };
        assert!(matches!(rebooted.liveness(&here()), Liveness::Dead(_)));
        let elsewhere = Owner {
            host: "ci-runner-7".into(),
            ..Owner::current().clone()
        };
        assert!(matches!(elsewhere.liveness(&here()), Liveness::Unknown(_)));
    }

    #[test]
    fn the_start_time_is_read_after_a_command_name_with_spaces() {
        let stat = "42 (node (w) x) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 98765 1 2";
        assert_eq!(stat_start_ticks(stat), Some(98765));
        assert_eq!(stat_start_ticks("garbage"), None);
    }
}
