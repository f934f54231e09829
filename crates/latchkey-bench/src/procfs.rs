//! What the bench reads about a process from `/proc` (Linux only): resident
//! memory, its peak, and CPU time. Plus the guard that ends a child process
//! the bench started, whatever path the bench leaves by.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::process::Child;
use std::sync::{Arc, Mutex};

/// Clock ticks per second of `utime`/`stime` in `/proc/PID/stat`. Linux
/// exposes USER_HZ = 100 to user space on every architecture.
const USER_HZ: f64 = 100.0;

/// A child process the bench started; killed (by its own PID) and reaped
/// when dropped, so no error path leaves a server running.
pub struct ChildGuard {
    name: &'static str,
    child: Child,
    stderr_tail: Option<Arc<Mutex<VecDeque<String>>>>,
}

impl ChildGuard {
    pub fn new(name: &'static str, child: Child) -> ChildGuard {
        ChildGuard {
            name,
            child,
            stderr_tail: None,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Keeps the last lines the child wrote to standard error, for errors.
    pub fn set_stderr_tail(&mut self, tail: Arc<Mutex<VecDeque<String>>>) {
        self.stderr_tail = Some(tail);
    }

    /// The child's last lines on standard error, if they were kept.
    pub fn stderr_tail(&self) -> String {
        match &self.stderr_tail {
            Some(t) => t
                .lock()
                .map(|t| t.iter().cloned().collect::<Vec<_>>().join("\n"))
                .unwrap_or_default(),
            None => String::new(),
        }
    }

    /// Whether the child is still running (an exit status if not).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            if let Err(e) = self.child.kill() {
                eprintln!(
                    "bench: could not stop {} (pid {}): {e}",
                    self.name,
                    self.pid()
                );
            }
        }
        let _ = self.child.wait();
    }
}

/// Drains a child's output on a thread (so the pipe never fills and blocks
/// it), keeping the last `keep` lines and handing each line to `on_line`.
pub fn drain_lines<R: Read + Send + 'static>(
    pipe: R,
    keep: usize,
    mut on_line: impl FnMut(&str) + Send + 'static,
) -> Arc<Mutex<VecDeque<String>>> {
    let tail = Arc::new(Mutex::new(VecDeque::with_capacity(keep)));
    let kept = tail.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            on_line(&line);
            if let Ok(mut t) = kept.lock() {
                if t.len() == keep {
                    t.pop_front();
                }
                t.push_back(line);
            }
        }
    });
    tail
}

/// A `kB` field of `/proc/PID/status` (e.g. `VmRSS`, `VmHWM`), in KiB.
pub fn status_field_kib(status: &str, field: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        let mut words = rest.split_whitespace();
        let value = words.next()?.parse().ok()?;
        (words.next() == Some("kB")).then_some(value)
    })
}

/// Resident and peak-resident memory of a process, in KiB.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    pub rss_kib: u64,
    pub hwm_kib: u64,
}

pub fn memory(pid: u32) -> Option<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some(Memory {
        rss_kib: status_field_kib(&status, "VmRSS")?,
        hwm_kib: status_field_kib(&status, "VmHWM")?,
    })
}

/// Resets a process's peak RSS to its current RSS (Linux 4.0+), so each
/// scenario's peak is its own. False if the kernel refused.
pub fn reset_peak(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

/// User + system CPU seconds of `/proc/PID/stat` (all threads).
pub fn stat_cpu_seconds(stat: &str) -> Option<f64> {
    // The command name (field 2) may hold spaces and parentheses: count
    // fields from the last ')'.
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the name: state is field 3, utime field 14, stime field 15.
    let utime: u64 = fields.get(14 - 3)?.parse().ok()?;
    let stime: u64 = fields.get(15 - 3)?.parse().ok()?;
    Some((utime + stime) as f64 / USER_HZ)
}

pub fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    stat_cpu_seconds(&std::fs::read_to_string(path).ok()?)
}

/// CPU seconds every core spent busy (including time stolen by a
/// hypervisor), from the first line of `/proc/stat`.
pub fn busy_seconds(proc_stat: &str) -> Option<f64> {
    let line = proc_stat.lines().next()?.strip_prefix("cpu ")?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .map(|t| t.parse().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal (guest time is already
    // counted in user).
    let busy = [0, 1, 2, 5, 6, 7]
        .iter()
        .map(|&i| ticks.get(i).copied().unwrap_or(0))
        .sum::<u64>();
    Some(busy as f64 / USER_HZ)
}

pub fn machine_busy_seconds() -> Option<f64> {
    busy_seconds(&std::fs::read_to_string("/proc/stat").ok()?)
}

/// The 1, 5 and 15-minute load averages, as `/proc/loadavg` gives them:
/// other work on the machine shows here.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The CPU model and the number of cores this process may use.
pub fn machine() -> (String, usize) {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    (model, cores)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\tlatchkey\nVmPeak:\t  900000 kB\nVmHWM:\t   40960 kB\n\
                          VmRSS:\t   20480 kB\nThreads:\t5\n";

    #[test]
    fn reads_status_fields_in_kib() {
        assert_eq!(status_field_kib(STATUS, "VmRSS"), Some(20480));
        assert_eq!(status_field_kib(STATUS, "VmHWM"), Some(40960));
        assert_eq!(status_field_kib(STATUS, "VmSwap"), None);
        // A prefix of another field is not that field; a field without kB is
        // not a size.
        assert_eq!(status_field_kib(STATUS, "Vm"), None);
        assert_eq!(status_field_kib(STATUS, "Threads"), None);
    }

    #[test]
    fn reads_cpu_time_after_an_awkward_command_name() {
        let stat = "4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 5 0";
        assert_eq!(stat_cpu_seconds(stat), Some(3.0));
        assert_eq!(stat_cpu_seconds("4242 (x) S 1"), None);
    }

    #[test]
    fn reads_busy_time_of_all_cores() {
        let stat = "cpu  100 20 30 5000 40 5 5 40 0 0\ncpu0 50 10 15 2500 20 2 3 20 0 0\n";
        // 100 + 20 + 30 + 5 + 5 + 40 ticks; idle and iowait are not busy.
        assert_eq!(busy_seconds(stat), Some(2.0));
        assert_eq!(busy_seconds("cpu0 1 2 3\n"), None);
    }

    #[test]
    fn reads_this_process() {
        let me = memory(std::process::id()).expect("/proc/self/status");
        assert!(me.rss_kib > 0 && me.hwm_kib >= me.rss_kib, "{me:?}");
        assert!(cpu_seconds(None).is_some());
    }
}
