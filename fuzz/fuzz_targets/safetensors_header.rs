#![no_main]
//! Any bytes: the safetensors parser returns a header or an error, never panics, and a header
//! it returns is consistent.

use hubble_fuzz::safetensors::parse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for file_len in [None, Some(data.len() as u64)] {
        if let Ok(header) = parse(data, file_len) {
            let _ = header.parameters();
            let _ = header.by_dtype();
            assert!(header.data_start() <= data.len() as u64);
            if let Some(len) = file_len {
                assert!(header.data_start() + header.data_bytes() <= len);
            }
        }
    }
});
