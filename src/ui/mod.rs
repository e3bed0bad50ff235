//! The desktop app (eframe/egui): search → model page (card, files, license), the Downloads
//! panel and the Cache page.
//!
//! The UI thread never does I/O and never waits: [`worker::Worker`] runs every request on a
//! small tokio runtime and sends results back over a channel, waking the UI with
//! `request_repaint`. Nothing repaints while idle. See ARCHITECTURE.md.

mod about;
mod app;
mod browse;
mod cache_page;
mod compare;
mod downloads;
mod model_page;
mod runtime;
mod server_page;
mod settings;
mod system_view;
mod toasts;
mod r#try;
mod widgets;

use std::process::ExitCode;
use std::time::Instant;

use eframe::egui;

pub use about::RendererInfo;
pub use app::{AppOptions, HubbleApp, Route};
pub use downloads::{DownloadRow, Downloads, FileRow, RowState};
pub use model_page::fit_tab::{FitView, Measured};
pub use runtime::inbox::Inbox;
pub use runtime::instance;
pub use server_page::ServerPage;
pub use settings::{Settings, Theme, write_token_file};

use crate::config::{HubConfig, Overrides};
use crate::link::ModelLink;

/// How `hubble` (no subcommand) was started.
#[derive(Debug, Clone, Default)]
pub struct UiOptions {
    /// The command line's overrides.
    pub command_line: Overrides,
    /// Close after the first frame (start-up benchmarks, CI).
    pub exit_after_first_frame: bool,
    /// Force a renderer (`wgpu` or `glow`); by default wgpu, falling back to glow.
    pub renderer: Option<String>,
    /// A model page to open (`hubble hubble://model/org/name` or `hubble org/name`).
    pub link: Option<ModelLink>,
}

/// The app icon (rendered from `assets/icon.svg`).
const ICON_PNG: &[u8] = include_bytes!("../../assets/icon-256.png");

/// Opens the window and runs until it is closed. wgpu is tried first; if it can't start (no
/// adapter, no surface), the OpenGL (glow) renderer is tried, and the About window says so.
/// With a link and a window already running, the link goes to that window instead
/// ([`instance`]); `--exit-after-first-frame` runs stay out of that.
pub fn run(options: UiOptions) -> ExitCode {
    let started = Instant::now();
    let links = Inbox::with(options.link.clone());
    let _serving = if options.exit_after_first_frame {
        None
    } else {
        let hf_home = HubConfig::from_env(&options.command_line).hf_home;
        let path = instance::socket_path(&hf_home);
        match instance::claim(&path, options.link.as_ref()) {
            instance::Claim::HandedOver => {
                if let Some(link) = &options.link {
                    println!(
                        "hubble: opened {} in the running window",
                        instance::describe(link)
                    );
                }
                return ExitCode::SUCCESS;
            }
            instance::Claim::Open(listener) => listener.map(|listener| {
                let links = links.clone();
                listener.serve(move |link| links.push(link))
            }),
        }
    };
    let forced = match options.renderer.as_deref() {
        None => None,
        Some("wgpu") => Some(eframe::Renderer::Wgpu),
        Some("glow") => Some(eframe::Renderer::Glow),
        Some(other) => {
            eprintln!("error: unknown renderer {other:?}; use wgpu or glow");
            return ExitCode::from(2);
        }
    };
    let first = forced.unwrap_or(eframe::Renderer::Wgpu);
    let error = match launch(first, &options, &links, started, None) {
        Ok(()) => return ExitCode::SUCCESS,
        Err(error) => error,
    };
    if forced.is_none() && first == eframe::Renderer::Wgpu {
        let reason = format!("wgpu could not start ({error}); using OpenGL instead");
        eprintln!("hubble: {reason}");
        match launch(
            eframe::Renderer::Glow,
            &options,
            &links,
            started,
            Some(reason),
        ) {
            Ok(()) => return ExitCode::SUCCESS,
            Err(error) => eprintln!("error: could not open a window with OpenGL either: {error}"),
        }
    } else {
        eprintln!("error: could not open a window: {error}");
    }
    ExitCode::FAILURE
}

fn launch(
    renderer: eframe::Renderer,
    options: &UiOptions,
    links: &Inbox,
    started: Instant,
    fallback_reason: Option<String>,
) -> Result<(), eframe::Error> {
    let mut viewport = egui::ViewportBuilder::default()
        .with_title("Hubble")
        .with_app_id("hubble")
        .with_inner_size([1200.0, 800.0])
        .with_min_inner_size([640.0, 420.0]);
    if let Ok(icon) = eframe::icon_data::from_png_bytes(ICON_PNG) {
        viewport = viewport.with_icon(icon);
    }
    let native = eframe::NativeOptions {
        viewport,
        renderer,
        persist_window: true,
        ..eframe::NativeOptions::default()
    };
    let options = options.clone();
    let links = links.clone();
    eframe::run_native(
        "Hubble",
        native,
        Box::new(move |cc| {
            if let Some(state) = &cc.wgpu_render_state {
                r#try::audio_visual::register(&cc.egui_ctx, state);
            }
            let settings: Settings = cc
                .storage
                .and_then(|s| eframe::get_value(s, settings::STORAGE_KEY))
                .unwrap_or_default();
            let config = HubConfig::from_env(&settings.overrides(&options.command_line));
            let adapter = adapter_name(cc);
            let info = RendererInfo {
                software: r#try::stream_pace::is_software_adapter(&adapter)
                    || cc.wgpu_render_state.as_ref().is_some_and(|state| {
                        state.adapter.get_info().device_type == eframe::wgpu::DeviceType::Cpu
                    }),
                adapter,
                renderer: renderer.to_string(),
                fallback_reason,
            };
            let app_options = AppOptions {
                settings,
                command_line: options.command_line.clone(),
                renderer: info,
                exit_after_first_frame: options.exit_after_first_frame,
                started: Some(started),
                system: None,
                links,
            };
            Ok(Box::new(HubbleApp::new(&cc.egui_ctx, config, app_options)))
        }),
    )
}

/// The graphics adapter eframe got, in words.
fn adapter_name(cc: &eframe::CreationContext<'_>) -> String {
    if let Some(state) = &cc.wgpu_render_state {
        let info = state.adapter.get_info();
        return format!(
            "{} ({:?}, {:?}, driver {} {})",
            info.name, info.backend, info.device_type, info.driver, info.driver_info
        );
    }
    if let Some(gl) = &cc.gl {
        use eframe::glow::HasContext as _;
        // SAFETY: plain string queries on the current, live GL context eframe created.
        let (renderer, version) = unsafe {
            (
                gl.get_parameter_string(eframe::glow::RENDERER),
                gl.get_parameter_string(eframe::glow::VERSION),
            )
        };
        return format!("{renderer} (OpenGL {version})");
    }
    "unknown".into()
}
