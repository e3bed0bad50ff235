//! How soon a streamed update (a generated token, a remote chat piece) is painted.
//!
//! On a GPU a frame costs next to nothing, so every update is painted at once. On a software
//! rasteriser (llvmpipe, lavapipe, SwiftShader) presenting one 1400×900 frame takes 0.1–0.2 s
//! of the same CPU the model runs on: painting every token made a 2-core machine decode four
//! times slower in the app than in `hubble run`. There updates are gathered and painted a few
//! times a second instead (docs/BENCHMARKS.md, "Streaming in the app").

use std::time::Duration;

use eframe::egui;

/// The wait between a streamed update and the frame that shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StreamPace {
    delay: Duration,
}

impl StreamPace {
    /// The wait on a software rasteriser: long enough that presenting frames leaves most of
    /// the CPU to the model, short enough that the text still visibly flows.
    pub const SOFTWARE_DELAY: Duration = Duration::from_millis(500);

    /// Paint at once on a hardware adapter, every [`StreamPace::SOFTWARE_DELAY`] on a software one.
    pub fn for_renderer(software: bool) -> StreamPace {
        let delay = if software {
            StreamPace::SOFTWARE_DELAY
        } else {
            Duration::ZERO
        };
        StreamPace { delay }
    }

    /// The wait before the frame that shows an update.
    pub fn delay(self) -> Duration {
        self.delay
    }

    /// Asks `ctx` for the frame that shows an update; updates arriving before it share it.
    pub fn wake(self, ctx: &egui::Context) {
        if self.delay.is_zero() {
            ctx.request_repaint();
        } else {
            ctx.request_repaint_after(self.delay);
        }
    }
}

/// Whether an adapter's name is one of the CPU rasterisers Mesa and Chromium ship.
pub fn is_software_adapter(name: &str) -> bool {
    let name = name.to_lowercase();
    [
        "llvmpipe",
        "lavapipe",
        "softpipe",
        "swiftshader",
        "software rasterizer",
    ]
    .iter()
    .any(|known| name.contains(known))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn software_rasterisers_are_recognised_by_name() {
        assert!(is_software_adapter("llvmpipe (LLVM 15.0.6, 256 bits)"));
        assert!(is_software_adapter("SwiftShader Device (Subzero)"));
        assert!(is_software_adapter(
            "Microsoft Basic Render Driver Software Rasterizer"
        ));
        assert!(!is_software_adapter("NVIDIA GeForce RTX 4090"));
        assert!(!is_software_adapter(
            "AMD Radeon Graphics (RADV GFX1103_R1)"
        ));
    }

    #[test]
    fn only_a_software_renderer_delays_streamed_updates() {
        assert_eq!(StreamPace::for_renderer(false).delay(), Duration::ZERO);
        assert_eq!(StreamPace::default(), StreamPace::for_renderer(false));
        assert_eq!(
            StreamPace::for_renderer(true).delay(),
            StreamPace::SOFTWARE_DELAY
        );
    }

    #[test]
    fn a_paced_update_asks_for_a_later_frame_instead_of_one_at_once() {
        let ctx = egui::Context::default();
        let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = asked.clone();
        ctx.set_repaint_observer(move |info| seen.lock().unwrap().push(info.delay));
        StreamPace::for_renderer(true).wake(&ctx);
        StreamPace::for_renderer(false).wake(&ctx);
        assert_eq!(
            *asked.lock().unwrap(),
            vec![StreamPace::SOFTWARE_DELAY, Duration::ZERO]
        );
    }
}
