//! Audio devices as the pickers show them (cpal), for the microphone and for playback.

use cpal::traits::{DeviceTrait, HostTrait};

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
