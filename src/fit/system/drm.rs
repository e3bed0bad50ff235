//! AMD GPUs through the amdgpu driver's sysfs files (Linux):
//! `/sys/class/drm/card*/device/{vendor,mem_info_vram_total,mem_info_vram_used}`.

use super::{GpuInfo, GpuKind, VENDOR_AMD};

/// AMD GPUs with dedicated VRAM. APUs (whose "VRAM" is a carve-out of RAM, at most 512 MiB
/// by default) are reported as integrated.
pub(super) fn probe() -> Vec<GpuInfo> {
    probe_in(std::path::Path::new("/sys/class/drm"))
}

fn probe_in(root: &std::path::Path) -> Vec<GpuInfo> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut cards: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        // card0, card1 … but not connectors like card0-DP-1
        .filter(|n| {
            n.strip_prefix("card")
                .is_some_and(|d| d.bytes().all(|b| b.is_ascii_digit()) && !d.is_empty())
        })
        .collect();
    cards.sort();
    let mut gpus = Vec::new();
    for card in cards {
        let device = root.join(&card).join("device");
        let read = |name: &str| std::fs::read_to_string(device.join(name)).ok();
        let vendor = read("vendor")
            .and_then(|v| u32::from_str_radix(v.trim().trim_start_matches("0x"), 16).ok());
        if vendor != Some(VENDOR_AMD) {
            continue;
        }
        let Some(total) = read("mem_info_vram_total").and_then(|v| v.trim().parse::<u64>().ok())
        else {
            continue;
        };
        let used = read("mem_info_vram_used").and_then(|v| v.trim().parse::<u64>().ok());
        let name = read("product_name")
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| format!("AMD GPU ({card})"));
        gpus.push(GpuInfo {
            name,
            vendor_id: VENDOR_AMD,
            kind: if total <= 1 << 30 {
                GpuKind::Integrated
            } else {
                GpuKind::Discrete
            },
            memory_total: total,
            memory_free: used.map(|u| total.saturating_sub(u)),
            source: "amdgpu-sysfs".into(),
            driver: None,
        });
    }
    gpus
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_amd_cards_from_sysfs() {
        let root = tempfile::tempdir().unwrap();
        let write = |card: &str, files: &[(&str, &str)]| {
            let dir = root.path().join(card).join("device");
            std::fs::create_dir_all(&dir).unwrap();
            for (name, text) in files {
                std::fs::write(dir.join(name), text).unwrap();
            }
        };
        write(
            "card0",
            &[
                ("vendor", "0x1002\n"),
                ("mem_info_vram_total", "25753026560\n"),
                ("mem_info_vram_used", "753026560\n"),
            ],
        );
        write("card1", &[("vendor", "0x8086\n")]);
        write("card0-DP-1", &[("vendor", "0x1002\n")]);
        let gpus = probe_in(root.path());
        assert_eq!(gpus.len(), 1);
        assert_eq!(gpus[0].memory_total, 25_753_026_560);
        assert_eq!(gpus[0].memory_free, Some(25_000_000_000));
        assert_eq!(gpus[0].kind, GpuKind::Discrete);
    }
}
