//! Audio devices as the pickers show them (cpal), for the microphone and for playback.

use std::time::Duration;

use cpal::ErrorKind;
use cpal::traits::{DeviceTrait, HostTrait};

/// How long a stream may go without moving samples, after a passing error, before the error is
/// taken as the end of it.
pub(crate) const STALL: Duration = Duration::from_secs(3);

/// An input or output device as a picker shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioDevice {
    /// cpal's stable id (`alsa:pulse`), used to open it again.
    pub id: String,
    /// The name to show.
    pub name: String,
    /// Whether it is the host's default (input or output).
    pub is_default: bool,
}

/// The devices cpal listed, the default first; a listing error is an empty list.
pub(crate) fn listed<E>(
    devices: Result<impl Iterator<Item = cpal::Device>, E>,
    default: Option<cpal::Device>,
) -> Vec<AudioDevice> {
    let default_id = default.and_then(|d| d.id().ok()).map(|id| id.to_string());
    let mut out: Vec<AudioDevice> = devices
        .map(|devices| {
            devices
                .filter_map(|d| {
                    let id = d.id().ok()?.to_string();
                    Some(AudioDevice {
                        is_default: Some(&id) == default_id.as_ref(),
                        name: d.to_string(),
                        id,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort_by_key(|d| !d.is_default);
    out
}

/// The device with cpal's id `id` (as [`AudioDevice::id`] holds it), or a message saying it is
/// gone.
pub(crate) fn device_by_id(host: &cpal::Host, id: &str) -> Result<cpal::Device, String> {
    let parsed = id.parse().map_err(|e| format!("device {id}: {e}"))?;
    host.device_by_id(&parsed)
        .ok_or_else(|| format!("the audio device {id} is gone; pick another"))
}

/// What a stream's error callback has reported, for the microphone and for playback alike.
#[derive(Debug, Default)]
pub(crate) struct StreamErrors {
    /// The first error that ended the stream.
    ended: Option<String>,
    /// The last passing error (the stream goes on).
    glitch: Option<String>,
}

impl StreamErrors {
    /// Takes an error from cpal's error callback: the end of the stream, or a glitch.
    pub(crate) fn report(&mut self, error: &cpal::Error) {
        if ends_stream(error) {
            self.end(error.to_string());
        } else {
            self.glitch = Some(error.to_string());
        }
    }

    /// Ends the stream with `message` (unless it has ended already).
    pub(crate) fn end(&mut self, message: String) {
        self.ended.get_or_insert(message);
    }

    /// Why the stream is over: the error that ended it, or, once no samples have moved for
    /// [`STALL`] (`stalled`), the last glitch. None while it runs.
    pub(crate) fn verdict(&self, stalled: bool) -> Option<String> {
        self.ended
            .clone()
            .or_else(|| self.glitch.clone().filter(|_| stalled))
    }
}

/// Whether a stream error ends the stream (the device or the audio server is gone, access was
/// taken away, the stream must be rebuilt). The others are glitches cpal's stream keeps running
/// through: an xrun, a busy or rerouted device, a refused real-time priority, and a backend's
/// passing error such as the PulseAudio ALSA plugin's `snd_pcm_avail_delay` I/O error; those
/// count only when no samples move for [`STALL`] after them.
fn ends_stream(error: &cpal::Error) -> bool {
    !matches!(
        error.kind(),
        ErrorKind::Xrun
            | ErrorKind::BackendError
            | ErrorKind::DeviceBusy
            | ErrorKind::DeviceChanged
            | ErrorKind::RealtimeDenied
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_lasting_stream_errors_end_a_stream() {
        let passing = cpal::Error::with_message(
            ErrorKind::BackendError,
            "ALSA function 'snd_pcm_avail_delay' failed with error 'I/O error (5)'",
        );
        assert!(!ends_stream(&passing));
        assert!(!ends_stream(&ErrorKind::Xrun.into()));
        assert!(ends_stream(&ErrorKind::DeviceNotAvailable.into()));
        assert!(ends_stream(&ErrorKind::StreamInvalidated.into()));
        assert!(ends_stream(&ErrorKind::PermissionDenied.into()));

        let mut errors = StreamErrors::default();
        errors.report(&passing);
        assert_eq!(errors.verdict(false), None);
        assert!(
            errors
                .verdict(true)
                .unwrap()
                .contains("snd_pcm_avail_delay")
        );
        errors.report(&ErrorKind::DeviceNotAvailable.into());
        errors.report(&ErrorKind::StreamInvalidated.into());
        let ended = errors.verdict(false).unwrap();
        assert!(ended.contains("not available"), "{ended}");
    }
}
