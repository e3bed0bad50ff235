//! The audio view's live picture: a waveform above a spectrogram of the last few seconds.
//! With the wgpu renderer it is drawn by `shaders/audio_visual.wgsl` through an egui_wgpu paint
//! callback (the data goes up as one small R32Float texture per frame); otherwise (glow, or
//! egui_kittest without wgpu) the same picture is drawn on the CPU as an egui mesh.

use eframe::egui::{self, Color32, Mesh, Pos2, Rect};
use eframe::egui_wgpu::{self, wgpu};

use crate::media::fft::Fft;

/// Time columns in the picture.
pub const COLUMNS: usize = 256;
/// Spectrogram rows (linear frequency, 0–8 kHz).
pub const BINS: usize = 64;
/// Seconds shown.
pub const SECONDS: f32 = 4.0;
const WAVE_HEIGHT: f32 = 0.4;
const GAP: f32 = 0.02;

/// What one frame draws: per column the waveform's min/max and the spectrogram's bins (0..1).
#[derive(Debug, Clone, PartialEq)]
pub struct Picture {
    /// `[min, max]` of the samples in each column, in −1..1.
    pub wave: Vec<[f32; 2]>,
    /// `COLUMNS × BINS` values in 0..1, column-major (a column's bins together, low first).
    pub spectrum: Vec<f32>,
}

impl Picture {
    /// The picture of the last [`SECONDS`] of `samples` (mono at `rate` Hz), right-aligned so
    /// that new sound enters on the right.
    pub fn from_samples(samples: &[f32], rate: u32) -> Picture {
        // Display only: decimate to ~16 kHz by taking every n-th sample.
        let step = (rate as usize / 16_000).max(1);
        let rate = rate as usize / step;
        let wanted = (SECONDS * rate as f32) as usize;
        let start = samples.len().saturating_sub(wanted * step);
        let audio: Vec<f32> = samples[start..].iter().step_by(step).copied().collect();
        let per_column = (wanted / COLUMNS).max(1);
        let missing = wanted.saturating_sub(audio.len());
        let mut wave = vec![[0.0f32; 2]; COLUMNS];
        let mut spectrum = vec![0.0f32; COLUMNS * BINS];
        let fft = Fft::new(FFT_SIZE);
        for c in 0..COLUMNS {
            let from = (c * per_column).checked_sub(missing);
            let Some(from) = from.filter(|f| *f < audio.len()) else {
                continue;
            };
            let chunk = &audio[from..(from + per_column).min(audio.len())];
            let (lo, hi) = chunk
                .iter()
                .fold((f32::MAX, f32::MIN), |(lo, hi), s| (lo.min(*s), hi.max(*s)));
            wave[c] = [lo.clamp(-1.0, 1.0), hi.clamp(-1.0, 1.0)];
            let frame: Vec<(f64, f64)> = (0..FFT_SIZE)
                .map(|i| {
                    let s = audio.get(from + i).copied().unwrap_or(0.0);
                    let w = 0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / FFT_SIZE as f64).cos();
                    (f64::from(s) * w, 0.0)
                })
                .collect();
            let power: Vec<f64> = fft
                .run(&frame)
                .iter()
                .take(FFT_SIZE / 2)
                .map(|(re, im)| re * re + im * im)
                .collect();
            let per_bin = power.len() / BINS;
            for b in 0..BINS {
                let p: f64 = power[b * per_bin..(b + 1) * per_bin].iter().sum::<f64>();
                let db = 10.0 * (p / per_bin as f64).max(1e-12).log10();
                spectrum[c * BINS + b] = ((db + 80.0) / 80.0).clamp(0.0, 1.0) as f32;
            }
        }
        Picture { wave, spectrum }
    }

    /// The texture layout the shader reads: rows 0/1 min/max, then the bins, row-major.
    fn texels(&self) -> Vec<f32> {
        let mut out = vec![0.0f32; COLUMNS * (BINS + 2)];
        for c in 0..COLUMNS {
            out[c] = self.wave[c][0];
            out[COLUMNS + c] = self.wave[c][1];
            for b in 0..BINS {
                out[(b + 2) * COLUMNS + c] = self.spectrum[c * BINS + b];
            }
        }
        out
    }
}

const FFT_SIZE: usize = 256;

/// Draws `picture` in `rect`: through the shader when [`register`] ran for this context's wgpu
/// renderer, else on the CPU.
pub fn paint(ui: &egui::Ui, rect: Rect, picture: Picture) {
    if ui
        .ctx()
        .data(|d| d.get_temp::<bool>(shader_flag()))
        .unwrap_or(false)
    {
        ui.painter().add(egui_wgpu::Callback::new_paint_callback(
            rect,
            ShaderPicture(picture),
        ));
    } else {
        ui.painter()
            .add(egui::Shape::mesh(cpu_mesh(rect, &picture)));
    }
}

fn shader_flag() -> egui::Id {
    egui::Id::unique("hubble-audio-visual-shader")
}

/// The picture as coloured quads (the fallback renderer).
fn cpu_mesh(rect: Rect, picture: &Picture) -> Mesh {
    let mut mesh = Mesh::default();
    mesh.add_colored_rect(rect, Color32::from_rgb(13, 15, 20));
    let width = rect.width() / COLUMNS as f32;
    let wave_h = rect.height() * WAVE_HEIGHT;
    let mid = rect.top() + wave_h / 2.0;
    let spec_top = rect.top() + rect.height() * (WAVE_HEIGHT + GAP);
    let bin_h = (rect.bottom() - spec_top) / BINS as f32;
    for c in 0..COLUMNS {
        let x = rect.left() + c as f32 * width;
        let [lo, hi] = picture.wave[c];
        let top = mid - hi * wave_h / 2.0;
        let bottom = (mid - lo * wave_h / 2.0).max(top + 1.0);
        mesh.add_colored_rect(
            Rect::from_min_max(Pos2::new(x, top), Pos2::new(x + width, bottom)),
            Color32::from_rgb(89, 191, 255),
        );
        for b in 0..BINS {
            let y = rect.bottom() - (b + 1) as f32 * bin_h;
            mesh.add_colored_rect(
                Rect::from_min_size(Pos2::new(x, y), egui::vec2(width, bin_h)),
                colormap(picture.spectrum[c * BINS + b]),
            );
        }
    }
    mesh
}

/// The shader's colour map, on the CPU.
fn colormap(t: f32) -> Color32 {
    let stops = [
        [0.02, 0.02, 0.10],
        [0.45, 0.10, 0.55],
        [0.95, 0.45, 0.15],
        [1.00, 0.95, 0.70],
    ];
    let t = t.clamp(0.0, 1.0) * 3.0;
    let i = (t.floor() as usize).min(2);
    let f = t - i as f32;
    let c: Vec<u8> = (0..3)
        .map(|k| ((stops[i][k] + (stops[i + 1][k] - stops[i][k]) * f) * 255.0) as u8)
        .collect();
    Color32::from_rgb(c[0], c[1], c[2])
}

/// GPU objects shared by every frame's callback (kept in egui_wgpu's callback resources).
struct Resources {
    pipeline: wgpu::RenderPipeline,
    bind_group: wgpu::BindGroup,
    texture: wgpu::Texture,
}

/// Builds the pipeline and data texture for the wgpu renderer and turns the shader path on
/// for `ctx` (the app calls this once at start-up when eframe runs on wgpu).
pub fn register(ctx: &egui::Context, state: &egui_wgpu::RenderState) {
    let device = &state.device;
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("hubble_audio_visual"),
        source: wgpu::ShaderSource::Wgsl(include_str!("../../../shaders/audio_visual.wgsl").into()),
    });
    let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some("hubble_audio_visual"),
        entries: &[wgpu::BindGroupLayoutEntry {
            binding: 0,
            visibility: wgpu::ShaderStages::FRAGMENT,
            ty: wgpu::BindingType::Texture {
                sample_type: wgpu::TextureSampleType::Float { filterable: false },
                view_dimension: wgpu::TextureViewDimension::D2,
                multisampled: false,
            },
            count: None,
        }],
    });
    let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some("hubble_audio_visual"),
        bind_group_layouts: &[Some(&layout)],
        immediate_size: 0,
    });
    let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
        label: Some("hubble_audio_visual"),
        layout: Some(&pipeline_layout),
        vertex: wgpu::VertexState {
            module: &module,
            entry_point: Some("vs_main"),
            buffers: &[],
            compilation_options: wgpu::PipelineCompilationOptions::default(),
        },
        primitive: wgpu::PrimitiveState::default(),
        depth_stencil: None,
        multisample: wgpu::MultisampleState::default(),
        fragment: Some(wgpu::FragmentState {
            module: &module,
            entry_point: Some("fs_main"),
            targets: &[Some(wgpu::ColorTargetState {
                format: state.target_format,
                blend: None,
                write_mask: wgpu::ColorWrites::ALL,
            })],
            compilation_options: wgpu::PipelineCompilationOptions::default(),
        }),
        multiview_mask: None,
        cache: None,
    });
    let texture = device.create_texture(&wgpu::TextureDescriptor {
        label: Some("hubble_audio_visual"),
        size: wgpu::Extent3d {
            width: COLUMNS as u32,
            height: (BINS + 2) as u32,
            depth_or_array_layers: 1,
        },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format: wgpu::TextureFormat::R32Float,
        usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
        view_formats: &[],
    });
    let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
    let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some("hubble_audio_visual"),
        layout: &layout,
        entries: &[wgpu::BindGroupEntry {
            binding: 0,
            resource: wgpu::BindingResource::TextureView(&view),
        }],
    });
    state.renderer.write().callback_resources.insert(Resources {
        pipeline,
        bind_group,
        texture,
    });
    ctx.data_mut(|d| d.insert_temp(shader_flag(), true));
}

/// One frame's picture on its way to the GPU.
struct ShaderPicture(Picture);

impl egui_wgpu::CallbackTrait for ShaderPicture {
    fn prepare(
        &self,
        _device: &wgpu::Device,
        queue: &wgpu::Queue,
        _screen: &egui_wgpu::ScreenDescriptor,
        _encoder: &mut wgpu::CommandEncoder,
        resources: &mut egui_wgpu::CallbackResources,
    ) -> Vec<wgpu::CommandBuffer> {
        if let Some(res) = resources.get::<Resources>() {
            let texels = self.0.texels();
            let bytes: Vec<u8> = texels.iter().flat_map(|v| v.to_le_bytes()).collect();
            queue.write_texture(
                wgpu::TexelCopyTextureInfo {
                    texture: &res.texture,
                    mip_level: 0,
                    origin: wgpu::Origin3d::ZERO,
                    aspect: wgpu::TextureAspect::All,
                },
                &bytes,
                wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(4 * COLUMNS as u32),
                    rows_per_image: Some((BINS + 2) as u32),
                },
                wgpu::Extent3d {
                    width: COLUMNS as u32,
                    height: (BINS + 2) as u32,
                    depth_or_array_layers: 1,
                },
            );
        }
        Vec::new()
    }

    fn paint(
        &self,
        _info: egui::PaintCallbackInfo,
        pass: &mut wgpu::RenderPass<'static>,
        resources: &egui_wgpu::CallbackResources,
    ) {
        if let Some(res) = resources.get::<Resources>() {
            pass.set_pipeline(&res.pipeline);
            pass.set_bind_group(0, &res.bind_group, &[]);
            pass.draw(0..3, 0..1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tone_shows_in_the_wave_and_its_frequency_band() {
        let rate = 48_000;
        let tone: Vec<f32> = (0..rate)
            .map(|i| 0.5 * (std::f32::consts::TAU * 2000.0 * i as f32 / rate as f32).sin())
            .collect();
        let picture = Picture::from_samples(&tone, rate as u32);
        // One second of sound in a four-second window: the right quarter is filled.
        let last = picture.wave[COLUMNS - 1];
        assert!(last[0] < -0.4 && last[1] > 0.4, "{last:?}");
        assert_eq!(picture.wave[0], [0.0, 0.0]);
        let column = &picture.spectrum[(COLUMNS - 10) * BINS..(COLUMNS - 9) * BINS];
        let peak = (0..BINS)
            .max_by(|a, b| column[*a].total_cmp(&column[*b]))
            .unwrap();
        // 2 kHz of 8 kHz → bin 16 of 64.
        assert!((peak as i32 - 16).abs() <= 1, "peak at bin {peak}");
        assert_eq!(picture.texels().len(), COLUMNS * (BINS + 2));
    }

    #[test]
    fn silence_and_empty_input_are_fine() {
        let picture = Picture::from_samples(&[], 44_100);
        assert!(picture.spectrum.iter().all(|v| *v == 0.0));
        assert_eq!(colormap(0.0), Color32::from_rgb(5, 5, 25));
    }
}
