//! Peak resident memory while a model loads and runs: a thread samples the process's resident
//! set every [`PeakSampler::EVERY`] (Linux: `/proc/self/statm`; elsewhere sysinfo).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::fit::system::resident_bytes;

/// What a [`PeakSampler`] saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoryPeak {
    /// Resident bytes when sampling started.
    pub before: Option<u64>,
    /// The most resident bytes seen.
    pub peak: Option<u64>,
}

impl MemoryPeak {
    /// How far the peak rose above where it started.
    pub fn rise(&self) -> Option<u64> {
        Some(self.peak?.saturating_sub(self.before?))
    }
}

/// A running sampler; [`PeakSampler::finish`] stops it and says what it saw.
pub struct PeakSampler {
    before: Option<u64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Option<u64>>>,
}

impl PeakSampler {
    /// How often the resident set is read.
    pub const EVERY: Duration = Duration::from_millis(20);

    /// Notes the resident set now and starts sampling.
    pub fn start() -> PeakSampler {
        let before = resident_bytes();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("hubble-memory".into())
            .spawn(move || {
                let mut peak = None;
                loop {
                    peak = peak.max(resident_bytes());
                    if flag.load(Ordering::Relaxed) {
                        return peak;
                    }
                    std::thread::sleep(PeakSampler::EVERY);
                }
            })
            .ok();
        PeakSampler {
            before,
            stop,
            thread,
        }
    }

    /// Stops sampling (waiting at most one interval) and returns the peak.
    pub fn finish(mut self) -> MemoryPeak {
        self.stop.store(true, Ordering::Relaxed);
        let sampled = self.thread.take().and_then(|t| t.join().ok()).flatten();
        MemoryPeak {
            before: self.before,
            peak: sampled.max(resident_bytes()).max(self.before),
        }
    }
}

impl Drop for PeakSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catches_memory_that_came_and_went_between_start_and_finish() {
        let sampler = PeakSampler::start();
        let block = vec![1u8; 96 * 1024 * 1024];
        std::thread::sleep(PeakSampler::EVERY * 5);
        assert!(block.iter().step_by(4096).all(|&b| b == 1));
        drop(block);
        let seen = sampler.finish();
        let rise = seen.rise().expect("this OS reports resident memory");
        assert!(rise >= 64 * 1024 * 1024, "{seen:?}");
        assert!(seen.peak >= seen.before);
    }
}
