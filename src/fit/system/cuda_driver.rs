//! The NVIDIA driver, opened at run time in CUDA builds (the device picker and the backends
//! list ask it).
//!
//! candle links CUDA's libraries at build time, the driver (`libcuda.so.1`) among them; a
//! binary that named the driver would not start at all on a machine without one.
//! `scripts/build-cuda.sh` drops it from the binary's needed libraries and keeps its
//! functions lazily bound, and this module loads it into the global scope before any CUDA call,
//! so that on a machine with no NVIDIA driver CUDA is simply off and the rest runs on wgpu or
//! the CPU.

use std::sync::OnceLock;

/// Whether CUDA can be used: the build has it and the driver is loaded. The error says why not.
pub fn driver() -> Result<(), &'static str> {
    static DRIVER: OnceLock<Result<(), String>> = OnceLock::new();
    DRIVER
        .get_or_init(open)
        .as_ref()
        .map(|_| ())
        .map_err(String::as_str)
}

/// Says once, on stderr, that a CUDA build found no driver (nothing in other builds).
pub fn announce() {
    if cfg!(feature = "cuda")
        && let Err(why) = driver()
    {
        eprintln!("hubble: CUDA is off ({why}); computing with wgpu or the CPU");
    }
}

#[cfg(all(feature = "cuda", target_os = "linux"))]
fn open() -> Result<(), String> {
    use std::ffi::CStr;
    // SAFETY: dlopen with a constant, NUL-terminated name; the handle is kept for the process's
    // life (never closed), and dlerror's message is copied at once on this thread.
    unsafe {
        let handle = libc::dlopen(c"libcuda.so.1".as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL);
        if handle.is_null() {
            let error = libc::dlerror();
            let detail = if error.is_null() {
                "libcuda.so.1 not found".to_string()
            } else {
                CStr::from_ptr(error).to_string_lossy().into_owned()
            };
            return Err(format!("no NVIDIA driver: {detail}"));
        }
    }
    Ok(())
}

/// Elsewhere the driver is linked as usual (Windows' import library finds it at start).
#[cfg(all(feature = "cuda", not(target_os = "linux")))]
fn open() -> Result<(), String> {
    Ok(())
}

#[cfg(not(feature = "cuda"))]
fn open() -> Result<(), String> {
    Err("this build has no CUDA: build it with scripts/build-cuda.sh".into())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_build_without_cuda_says_how_to_get_it() {
        if !cfg!(feature = "cuda") {
            let why = super::driver().unwrap_err();
            assert!(why.contains("scripts/build-cuda.sh"), "{why}");
        }
    }
}
