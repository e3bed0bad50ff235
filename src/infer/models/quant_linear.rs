//! [`Linear`]: a GGUF weight matrix applied to activations, with `hubble_kernels`'s AVX2
//! products for Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K and Q6_K tensors on CPUs that have it
//! (candle 0.11's are scalar in a portable build, or quantise the activations per 256 values) and
//! candle's `QMatMul` for every other type and device.

use std::borrow::Cow;
use std::sync::Arc;

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{D, DType, Module, Result, Tensor};

/// A quantised weight matrix applied to activations.
pub enum Linear {
    /// candle's product (every quantisation type, every device).
    Candle(QMatMul),
    /// Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K or Q6_K with AVX2 on the CPU.
    Fast(FastMatmul),
}

impl Linear {
    /// The fastest product for `tensor` on this machine.
    pub fn new(tensor: QTensor) -> Result<Linear> {
        match FastMatmul::new(&tensor)? {
            Some(fast) => Ok(Linear::Fast(fast)),
            None => Ok(Linear::Candle(QMatMul::from_qtensor(tensor)?)),
        }
    }

    /// The same for a tensor shared with another use (a head tied to the token embedding),
    /// read in place.
    pub fn shared(tensor: Arc<QTensor>) -> Result<Linear> {
        match FastMatmul::shared(&tensor)? {
            Some(fast) => Ok(Linear::Fast(fast)),
            None => Ok(Linear::Candle(QMatMul::from_arc(tensor)?)),
        }
    }
}

impl Module for Linear {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Linear::Candle(matmul) => matmul.forward(x),
            Linear::Fast(matmul) => matmul.forward(x),
        }
    }
}

/// A Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K or Q6_K matrix of `rows` output features by
/// `cols` input features, its blocks as stored, with its kernel.
pub struct FastMatmul {
    blocks: Blocks,
    rows: usize,
    cols: usize,
    kind: &'static hubble_kernels::BlockKind,
}

/// Where a [`FastMatmul`]'s blocks are.
enum Blocks {
    /// A copy of the tensor's bytes; the tensor is dropped. (Kept for a tensor of its own: a
    /// 1 B Q8_0 model peaked 55 MB higher holding the tensors themselves, the allocator's
    /// holes left by loading.)
    Copied(Vec<u8>),
    /// The tensor's own CPU storage, borrowed at each product.
    Shared(Arc<QTensor>),
}

impl FastMatmul {
    /// Like [`FastMatmul::new`], reading `tensor`'s storage in place instead of a copy.
    pub fn shared(tensor: &Arc<QTensor>) -> Result<Option<FastMatmul>> {
        FastMatmul::with(tensor, || Ok(Blocks::Shared(tensor.clone())))
    }

    /// `Some` when `tensor` is a Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K or Q6_K matrix on the
    /// CPU (its rows whole blocks, as GGUF stores them) and this CPU has AVX2, FMA and F16C.
    pub fn new(tensor: &QTensor) -> Result<Option<FastMatmul>> {
        FastMatmul::with(tensor, || Ok(Blocks::Copied(tensor.data()?.into_owned())))
    }

    /// The product for `tensor` over the `blocks` made where it has one.
    fn with(
        tensor: &QTensor,
        blocks: impl FnOnce() -> Result<Blocks>,
    ) -> Result<Option<FastMatmul>> {
        let kind = match tensor.dtype() {
            GgmlDType::Q4_0 => &hubble_kernels::Q4_0,
            GgmlDType::Q4_1 => &hubble_kernels::Q4_1,
            GgmlDType::Q5_0 => &hubble_kernels::Q5_0,
            GgmlDType::Q5_1 => &hubble_kernels::Q5_1,
            GgmlDType::Q8_0 => &hubble_kernels::Q8_0,
            GgmlDType::Q4K => &hubble_kernels::Q4_K,
            GgmlDType::Q5K => &hubble_kernels::Q5_K,
            GgmlDType::Q6K => &hubble_kernels::Q6_K,
            _ => return Ok(None),
        };
        if !tensor.device().is_cpu() || !hubble_kernels::available() {
            return Ok(None);
        }
        let (rows, cols) = tensor.shape().dims2()?;
        if !cols.is_multiple_of(kind.values()) {
            return Ok(None);
        }
        Ok(Some(FastMatmul {
            blocks: blocks()?,
            rows,
            cols,
            kind,
        }))
    }

    /// `x` (`(..., cols)`) times the transposed matrix: `(..., rows)`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let cols = x.dim(D::Minus1)?;
        if cols != self.cols {
            candle_core::bail!(
                "{cols} inputs for a {} matrix of {} columns",
                self.kind.name(),
                self.cols
            )
        }
        let mut dims = x.dims().to_vec();
        let last = dims.len() - 1;
        dims[last] = self.rows;
        let values = x.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
        let bytes = match &self.blocks {
            Blocks::Copied(bytes) => Cow::Borrowed(bytes.as_slice()),
            // A CPU tensor's data is its storage, borrowed (`new` takes only CPU tensors).
            Blocks::Shared(tensor) => tensor.data()?,
        };
        let out = hubble_kernels::matmul(self.kind, &bytes, self.rows, self.cols, &values)
            .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        Tensor::from_vec(out, dims, x.device())
    }
}

#[cfg(test)]
mod tests {
    use candle_core::Device;

    use super::*;
    use crate::infer::models::gguf_blocks::max_abs_diff;

    fn random(rows: usize, cols: usize, seed: u32) -> Tensor {
        let mut state = seed;
        let values: Vec<f32> = (0..rows * cols)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 8) as f32 / (1 << 24) as f32 - 0.5
            })
            .collect();
        Tensor::from_vec(values, (rows, cols), &Device::Cpu).unwrap()
    }

    #[test]
    fn fast_products_match_candles_scalar_ones() {
        for dtype in [
            GgmlDType::Q4_0,
            GgmlDType::Q4_1,
            GgmlDType::Q5_0,
            GgmlDType::Q5_1,
            GgmlDType::Q8_0,
        ] {
            matches_candle(dtype);
        }
    }

    /// The K-quants: candle quantises the activations per 256 values (Q8_K) and the kernels per
    /// 32 (as for the other types), so the products differ by that rounding. They are held to
    /// the product of candle's own dequantised weights with the activations rounded as the
    /// kernels round them (the weights decoded exactly as ggml does), and to no more error
    /// than candle's against the unrounded activations.
    #[test]
    fn k_quant_products_are_the_dequantised_weights_products() {
        for dtype in [GgmlDType::Q4K, GgmlDType::Q5K, GgmlDType::Q6K] {
            matches_dequantised(dtype);
        }
    }

    fn matches_dequantised(dtype: GgmlDType) {
        let cols = 512;
        let weights = QTensor::quantize(&random(72, cols, 7), dtype).unwrap();
        let Some(fast) = FastMatmul::new(&weights).unwrap() else {
            eprintln!("no AVX2 on this CPU: candle's product is used, nothing to compare");
            return;
        };
        let dequantised = weights.dequantize(&Device::Cpu).unwrap();
        let reference = QMatMul::from_qtensor(weights).unwrap();
        for (inputs, seed) in [(1, 3), (5, 11)] {
            let x = random(inputs, cols, seed);
            // The activations as the kernels quantise them: Q8_0's blocks of 32.
            let rounded = QTensor::quantize(&x, GgmlDType::Q8_0)
                .unwrap()
                .dequantize(&Device::Cpu)
                .unwrap();
            let want = rounded.matmul(&dequantised.t().unwrap()).unwrap();
            let exact = x.matmul(&dequantised.t().unwrap()).unwrap();
            // A prompt passes (1, inputs, cols).
            let got = fast
                .forward(&x.reshape((1, inputs, cols)).unwrap())
                .unwrap()
                .reshape((inputs, 72))
                .unwrap();
            let largest: f32 = want.abs().unwrap().max_all().unwrap().to_scalar().unwrap();
            let diff = max_abs_diff(&got, &want);
            assert!(
                diff <= 1e-5 * largest,
                "{dtype:?} differs from the dequantised product by {diff} (largest {largest})"
            );
            let candle = reference.forward(&x).unwrap();
            let (ours, theirs) = (max_abs_diff(&got, &exact), max_abs_diff(&candle, &exact));
            assert!(
                ours <= 3. * theirs + 1e-6 * largest,
                "{dtype:?}: error {ours} against the unrounded product, candle's {theirs}"
            );
        }
    }

    fn matches_candle(dtype: GgmlDType) {
        let weights = QTensor::quantize(&random(72, 256, 7), dtype).unwrap();
        let Some(fast) = FastMatmul::new(&weights).unwrap() else {
            eprintln!("no AVX2 on this CPU: candle's product is used, nothing to compare");
            return;
        };
        let reference = QMatMul::from_qtensor(weights).unwrap();
        // A decode step (one row) and a prompt (several rows, batched).
        for x in [
            random(1, 256, 3),
            random(5, 256, 11).reshape((1, 5, 256)).unwrap(),
        ] {
            let want = reference.forward(&x).unwrap();
            let got = fast.forward(&x).unwrap();
            assert_eq!(got.dims(), want.dims());
            let diff = max_abs_diff(&got, &want);
            let largest: f32 = want.abs().unwrap().max_all().unwrap().to_scalar().unwrap();
            assert!(
                diff <= 1e-5 * largest,
                "{dtype:?} differs by {diff} (largest {largest})"
            );
        }
    }

    #[test]
    fn a_shared_tensor_gives_the_copys_products() {
        let weights = Arc::new(QTensor::quantize(&random(72, 256, 7), GgmlDType::Q8_0).unwrap());
        let (Some(copied), Some(shared)) = (
            FastMatmul::new(&weights).unwrap(),
            FastMatmul::shared(&weights).unwrap(),
        ) else {
            eprintln!("no AVX2 on this CPU: candle's product is used, nothing to compare");
            return;
        };
        let x = random(3, 256, 5);
        let products = |fast: &FastMatmul| fast.forward(&x).unwrap().to_vec2::<f32>().unwrap();
        assert_eq!(products(&copied), products(&shared));
        assert!(matches!(Linear::shared(weights).unwrap(), Linear::Fast(_)));
    }

    #[test]
    fn other_types_stay_on_candle_and_bad_inputs_are_errors() {
        let q3k = QTensor::quantize(&random(4, 256, 1), GgmlDType::Q3K).unwrap();
        assert!(FastMatmul::new(&q3k).unwrap().is_none());
        assert!(matches!(Linear::new(q3k).unwrap(), Linear::Candle(_)));
        let q4 = QTensor::quantize(&random(4, 64, 1), GgmlDType::Q4_1).unwrap();
        if let Some(fast) = FastMatmul::new(&q4).unwrap() {
            assert!(fast.forward(&random(1, 32, 2)).is_err());
        }
    }
}
