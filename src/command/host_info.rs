//! `hostInfo`: the machine the server runs on.

use bson::{doc, Document};

use super::Invocation;
use crate::error::Result;

pub fn run(_: &Invocation<'_>) -> Result<Document> {
    let cores = std::thread::available_parallelism().map(|n| n.get() as i32).unwrap_or(1);
    Ok(doc! {
        "system": {
            "currentTime": bson::DateTime::now(),
            "hostname": hostname(),
            "cpuAddrSize": (usize::BITS as i32),
            "memSizeMB": memory_mb(),
            "numCores": cores,
            "cpuArch": std::env::consts::ARCH,
        },
        "os": {"type": os_type(), "name": std::env::consts::OS},
        "extra": {},
    })
}

/// The host name, or `localhost` when it cannot be read.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

fn os_type() -> &'static str {
    match std::env::consts::OS {
        "linux" => "Linux",
        "macos" => "Darwin",
        "windows" => "Windows",
        _ => "Unknown",
    }
}

/// Total memory from `/proc/meminfo`, 0 where that is not available.
fn memory_mb() -> i64 {
    let Ok(meminfo) = std::fs::read_to_string("/proc/meminfo") else { return 0 };
    meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
        .map_or(0, |kb| kb / 1024)
}
