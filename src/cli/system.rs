//! `hubble system`: what the fit estimates run against — CPU, RAM, GPUs, backends.

use std::process::ExitCode;

use clap::Args;

use super::format::{Table, bytes};
use crate::fit::system::SystemInfo;

/// Arguments of `hubble system`.
#[derive(Debug, Args)]
pub struct SystemArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs `hubble system`.
pub fn run(args: SystemArgs) -> ExitCode {
    let system = SystemInfo::probe();
    if args.json {
        match serde_json::to_string_pretty(&system) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("error: could not write JSON: {e}");
                return ExitCode::from(super::exit::FAILURE);
            }
        }
        return ExitCode::SUCCESS;
    }
    print!("{}", describe(&system));
    ExitCode::SUCCESS
}

/// The human text of `hubble system`.
pub fn describe(system: &SystemInfo) -> String {
    let cpu = &system.cpu;
    let cores = cpu.cores_text();
    let mut out = format!(
        "system  {}\ncpu     {} ({cores})\nsimd    {}\nthreads {} for inference (--threads N or RAYON_NUM_THREADS to change)\nram     {} total, {} available\n\n",
        system.os,
        if cpu.model.is_empty() {
            "unknown CPU"
        } else {
            &cpu.model
        },
        if cpu.features.is_empty() {
            "none detected".into()
        } else {
            cpu.features.join(" ")
        },
        crate::infer::cpu_threads::current(),
        bytes(system.memory.total),
        bytes(system.memory.available),
    );
    if system.gpus.is_empty() {
        out.push_str("gpus    none found (NVML, amdgpu sysfs, Vulkan)\n\n");
    } else {
        let mut table = Table::new(&["GPU", "KIND", ">MEMORY", ">FREE", "SOURCE"]);
        for gpu in &system.gpus {
            table.row(vec![
                gpu.name.clone(),
                gpu.kind.name().to_string(),
                bytes(gpu.memory_total),
                gpu.memory_free.map(bytes).unwrap_or_else(|| "?".into()),
                gpu.source.clone(),
            ]);
        }
        out.push_str(&table.render());
        out.push('\n');
    }
    if !system.wgpu.is_empty() {
        let mut table = Table::new(&["DEVICE", "ADAPTER", "API", "KIND", ">MEMORY"]);
        for adapter in &system.wgpu {
            table.row(vec![
                format!("wgpu:{}", adapter.index),
                adapter.name.clone(),
                adapter.backend.clone(),
                adapter.kind.clone(),
                adapter.memory.map(bytes).unwrap_or_else(|| "?".into()),
            ]);
        }
        out.push_str(&table.render());
        out.push('\n');
    }
    let mut table = Table::new(&["BACKEND", "IN BUILD", "USABLE", "NOTE"]);
    for backend in &system.backends {
        let yes = |b: bool| if b { "yes" } else { "no" }.to_string();
        table.row(vec![
            backend.name.clone(),
            yes(backend.compiled),
            yes(backend.usable),
            backend.note.clone().unwrap_or_default(),
        ]);
    }
    out.push_str(&table.render());
    for note in &system.notes {
        out.push_str(&format!("note: {note}\n"));
    }
    out
}
