// Live waveform (top) and spectrogram (bottom) of the audio view, drawn in one full-rect pass.
// The data texture (R32Float, read with textureLoad) has one column per time step:
// row 0 = the column's minimum sample, row 1 = its maximum, rows 2.. = spectrogram bins
// (0 = lowest frequency) scaled to 0..1.

@group(0) @binding(0) var data: texture_2d<f32>;

struct VsOut {
    @builtin(position) position: vec4<f32>,
    @location(0) uv: vec2<f32>,
};

// One triangle covering the viewport (egui sets the viewport to the callback's rect).
@vertex
fn vs_main(@builtin(vertex_index) index: u32) -> VsOut {
    let x = f32((index << 1u) & 2u);
    let y = f32(index & 2u);
    var out: VsOut;
    out.position = vec4<f32>(x * 2.0 - 1.0, 1.0 - y * 2.0, 0.0, 1.0);
    out.uv = vec2<f32>(x, y);
    return out;
}

const WAVE_HEIGHT: f32 = 0.4;
const GAP: f32 = 0.02;
const BACKGROUND: vec4<f32> = vec4<f32>(0.05, 0.06, 0.08, 1.0);

// Dark blue → purple → orange → pale yellow, like the CPU fallback's map.
fn colormap(t: f32) -> vec3<f32> {
    let v = clamp(t, 0.0, 1.0);
    let a = vec3<f32>(0.02, 0.02, 0.10);
    let b = vec3<f32>(0.45, 0.10, 0.55);
    let c = vec3<f32>(0.95, 0.45, 0.15);
    let d = vec3<f32>(1.00, 0.95, 0.70);
    if v < 0.33 {
        return mix(a, b, v / 0.33);
    } else if v < 0.66 {
        return mix(b, c, (v - 0.33) / 0.33);
    }
    return mix(c, d, (v - 0.66) / 0.34);
}

@fragment
fn fs_main(in: VsOut) -> @location(0) vec4<f32> {
    let size = textureDimensions(data);
    let column = min(u32(in.uv.x * f32(size.x)), size.x - 1u);
    if in.uv.y < WAVE_HEIGHT {
        let amplitude = 1.0 - 2.0 * in.uv.y / WAVE_HEIGHT;
        let low = textureLoad(data, vec2<u32>(column, 0u), 0).r;
        let high = textureLoad(data, vec2<u32>(column, 1u), 0).r;
        let pixel = 2.0 / (WAVE_HEIGHT * 200.0);
        if amplitude >= low - pixel && amplitude <= high + pixel {
            return vec4<f32>(0.35, 0.75, 1.0, 1.0);
        }
        if abs(amplitude) < pixel {
            return vec4<f32>(0.2, 0.22, 0.26, 1.0);
        }
        return BACKGROUND;
    }
    if in.uv.y < WAVE_HEIGHT + GAP {
        return BACKGROUND;
    }
    let bins = size.y - 2u;
    let t = (in.uv.y - WAVE_HEIGHT - GAP) / (1.0 - WAVE_HEIGHT - GAP);
    let bin = min(u32((1.0 - t) * f32(bins)), bins - 1u);
    let value = textureLoad(data, vec2<u32>(column, bin + 2u), 0).r;
    return vec4<f32>(colormap(value), 1.0);
}
