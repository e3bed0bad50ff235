//! This process's resident memory, for "measured after loading" next to the estimate.

use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, System};

/// Bytes of RAM this process holds right now (resident set), or `None` where the OS won't say.
/// Cheap enough to sample every few milliseconds (Linux reads `/proc/self/statm`).
pub fn resident_bytes() -> Option<u64> {
    #[cfg(target_os = "linux")]
    if let Some(bytes) = statm_resident_bytes() {
        return Some(bytes);
    }
    let pid = sysinfo::get_current_pid().ok()?;
    let mut system = System::new().ok()?;
    system.refresh_processes_specifics(
        ProcessesToUpdate::Some(&[pid]),
        false,
        ProcessRefreshKind::nothing().with_memory(),
    );
    system
        .process(pid)
        .map(|p| p.memory())
        .filter(|&bytes| bytes > 0)
}

/// The resident set from `/proc/self/statm` (its second field, in pages).
#[cfg(target_os = "linux")]
fn statm_resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let page_size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let bytes = pages * u64::try_from(page_size).ok()?;
    (bytes > 0).then_some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_when_memory_is_touched() {
        let before = resident_bytes().expect("this OS reports resident memory");
        let block = vec![1u8; 64 * 1024 * 1024];
        let after = resident_bytes().expect("this OS reports resident memory");
        assert!(block.iter().all(|&b| b == 1));
        assert!(
            after >= before + 32 * 1024 * 1024,
            "resident {before} → {after} after touching 64 MiB"
        );
    }
}
