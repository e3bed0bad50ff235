//! This process's resident memory, for "measured after loading" next to the estimate.

use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, System};

/// Bytes of RAM this process holds right now (resident set), or `None` where the OS won't say.
pub fn resident_bytes() -> Option<u64> {
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
