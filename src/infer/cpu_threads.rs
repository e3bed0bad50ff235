//! How many CPU threads inference uses: `--threads N`, else `RAYON_NUM_THREADS`, else the
//! machine's physical cores (a second hyper-thread on a core slows matrix products down more
//! than it helps). candle's matrix products and Hubble's kernels both run on rayon, which reads
//! `RAYON_NUM_THREADS` when its pool starts, so the count is set there once, at start-up.

/// The variable rayon and candle read.
const VARIABLE: &str = "RAYON_NUM_THREADS";

/// The thread count for `requested` (`--threads`; 0 or `None`: not given), the environment's
/// `RAYON_NUM_THREADS`, and the machine's physical and logical cores.
pub fn choose(
    requested: Option<usize>,
    environment: Option<&str>,
    physical: Option<usize>,
    logical: usize,
) -> usize {
    requested
        .filter(|n| *n > 0)
        .or_else(|| {
            environment
                .and_then(|v| v.trim().parse().ok())
                .filter(|n| *n > 0)
        })
        .or(physical.filter(|n| *n > 0))
        .unwrap_or(logical)
        .max(1)
}

/// Sets the count ([`choose`]) for this process and returns it. Call it first thing in
/// `main`, before any thread starts.
pub fn configure(requested: Option<usize>) -> usize {
    let environment = std::env::var(VARIABLE).ok();
    let logical = std::thread::available_parallelism().map_or(1, usize::from);
    let threads = choose(
        requested,
        environment.as_deref(),
        sysinfo::System::physical_core_count().ok(),
        logical,
    );
    // SAFETY: called at start-up, before this process has any other thread to read the
    // environment concurrently.
    unsafe { std::env::set_var(VARIABLE, threads.to_string()) };
    threads
}

/// The count in effect (what [`configure`] set, else rayon's own default).
pub fn current() -> usize {
    std::env::var(VARIABLE)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
}

/// Runs `work` on a thread of the pool the matrix products share (rayon's global pool), and
/// waits for it. From there each product splits its rows across the pool and works on them
/// itself; called from any other thread, every product would hand all its rows to the pool and
/// wait for a sleeping pool thread to wake, a hundred times a token.
pub fn on_pool<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    rayon::scope(|_| work())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_wins_then_the_environment_then_physical_cores() {
        assert_eq!(choose(Some(3), Some("5"), Some(4), 8), 3);
        assert_eq!(choose(None, Some("5"), Some(4), 8), 5);
        assert_eq!(choose(Some(0), Some(" 6 "), Some(4), 8), 6);
        assert_eq!(choose(None, Some("lots"), Some(4), 8), 4);
        assert_eq!(choose(None, None, None, 8), 8);
        assert_eq!(choose(None, Some("0"), Some(0), 0), 1);
    }
}
