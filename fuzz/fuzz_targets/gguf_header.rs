#![no_main]
//! Any bytes: the GGUF parser returns a header or an error, never panics or allocates from a
//! corrupt count, and a header it returns is consistent.

use hubble_fuzz::format_error::FormatError;
use hubble_fuzz::gguf::parse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for file_len in [None, Some(data.len() as u64)] {
        match parse(data, file_len) {
            Ok(header) => {
                let _ = (header.parameters(), header.by_type(), header.file_type());
                assert!(header.data_start <= data.len() as u64 + header.alignment);
                if let Some(len) = file_len {
                    for t in &header.tensors {
                        assert!(header.data_start + t.offset + t.bytes <= len.max(header.data_start));
                    }
                }
            }
            Err(FormatError::Truncated { needed }) => assert!(needed > data.len() as u64),
            Err(FormatError::Invalid(_)) => {}
        }
    }
});
