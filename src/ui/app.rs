//! The app: routes (search, model pages, datasets, collections, Spaces, the cache) with
//! back/forward history, global shortcuts, the top bar with the offline banner, the Downloads
//! panel, windows and toasts, and the reply pump from the worker.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

use eframe::egui::{self, Key, Modifiers, RichText};

use super::about::{self, RendererInfo};
use super::cache_page::{CacheAction, CachePage};
use super::compare::CompareView;
use super::server_page::ServerPage;
use super::settings::{STORAGE_KEY, Settings, SettingsAction, SettingsWindow};
use super::toasts::Toasts;
use crate::config::{HubConfig, Overrides};
use crate::fit::system::SystemInfo;
use crate::hub::{HubError, RepoId};
use crate::link::ModelLink;
use crate::ui::browse::collections_view::{CollectionsAction, CollectionsView};
use crate::ui::browse::dataset_page::{DatasetView, take_dataset_link};
use crate::ui::browse::dataset_search::{DatasetSearch, DatasetSearchAction};
use crate::ui::browse::search::{SearchAction, SearchState};
use crate::ui::browse::spaces_view::SpacesView;
use crate::ui::downloads::Downloads;
use crate::ui::downloads::panel;
use crate::ui::model_page::fit_tab::FitView;
use crate::ui::model_page::model::{DEFAULT_REVISION, ModelView};
use crate::ui::runtime::images::HubBytesLoader;
use crate::ui::runtime::inbox::Inbox;
use crate::ui::runtime::worker::{Worker, is_unreachable};
use crate::ui::r#try::stream_pace::StreamPace;

/// Where the app is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// The search view.
    Search,
    /// A model page.
    Model(RepoId),
    /// The Cache page.
    Cache,
    /// A dataset page.
    Dataset(RepoId),
    /// The dataset search view.
    Datasets,
    /// The Collections view.
    Collections,
    /// The Spaces view.
    Spaces,
    /// The Server page (`hubble serve` in the app).
    Server,
    /// The Compare view: cached models side by side.
    Compare,
}

/// How the app was started.
#[derive(Debug, Clone, Default)]
pub struct AppOptions {
    /// Settings loaded from eframe storage (defaults in tests).
    pub settings: Settings,
    /// The command line's overrides (they win over the settings).
    pub command_line: Overrides,
    /// Renderer and adapter, for the About window.
    pub renderer: RendererInfo,
    /// Close after the first frame (benchmarks, CI).
    pub exit_after_first_frame: bool,
    /// When the process started, for the first-frame time.
    pub started: Option<Instant>,
    /// The machine the Fit tab and the search results' fit badges judge against; `None` (the
    /// app) probes it once in the background, tests give a fixed one for stable verdicts.
    pub system: Option<SystemInfo>,
    /// Model links to open: the start-up one, then those other launches hand over.
    pub links: Inbox,
}

/// The desktop app's state.
pub struct HubbleApp {
    worker: Worker,
    options: AppOptions,
    settings: Settings,
    settings_window: SettingsWindow,
    /// The search view.
    pub search: SearchState,
    history: Vec<Route>,
    position: usize,
    pages: HashMap<RepoId, ModelView>,
    datasets: HashMap<RepoId, DatasetView>,
    dataset_search: DatasetSearch,
    collections: CollectionsView,
    spaces: SpacesView,
    toasts: Toasts,
    downloads: Downloads,
    cache_page: CachePage,
    server_page: ServerPage,
    compare: CompareView,
    offline: Option<String>,
    about_open: bool,
    frames: u64,
    /// Per-frame (Unix time, CPU ms) pairs, recorded when `HUBBLE_FRAME_STATS=<file>` is set and
    /// written to that file on exit (scripts/bench-ui.sh).
    frame_stats: Option<(std::path::PathBuf, Vec<(f64, f32)>)>,
}

impl HubbleApp {
    /// Builds the app for `config` (already merged with the settings) on `ctx`.
    pub fn new(ctx: &egui::Context, config: HubConfig, options: AppOptions) -> HubbleApp {
        let mut worker = Worker::new(config, ctx.clone());
        worker.set_stream_pace(StreamPace::for_renderer(options.renderer.software));
        match options.system.clone() {
            Some(system) => worker.set_system(system),
            None => worker.probe_system(),
        }
        egui_extras::install_image_loaders(ctx);
        if !ctx.is_loader_installed(HubBytesLoader::ID) {
            ctx.add_bytes_loader(Arc::new(HubBytesLoader::new(
                worker.shared_client(),
                worker.handle(),
            )));
        }
        options.links.attach(ctx);
        let settings = options.settings.clone();
        settings.apply_look(ctx);
        // A blinking text cursor repaints twice a second forever; idle must cost nothing.
        ctx.all_styles_mut(|style| style.visuals.text_cursor.blink = false);
        let mut search = SearchState::default();
        search.recent = settings.recent_searches.clone();
        let mut offline = None;
        if worker.config().offline {
            search.use_cache = true;
            offline = Some(
                "Offline mode is on (HF_HUB_OFFLINE or --offline): showing the models in your cache."
                    .to_string(),
            );
        }
        let downloads = Downloads::new(&worker, ctx);
        HubbleApp {
            downloads,
            cache_page: CachePage::default(),
            server_page: ServerPage::default(),
            compare: CompareView::default(),
            worker,
            options,
            settings,
            settings_window: SettingsWindow::default(),
            search,
            history: vec![Route::Search],
            position: 0,
            pages: HashMap::new(),
            datasets: HashMap::new(),
            dataset_search: DatasetSearch::default(),
            collections: CollectionsView::default(),
            spaces: SpacesView::default(),
            toasts: Toasts::default(),
            offline,
            about_open: false,
            frames: 0,
            frame_stats: std::env::var_os("HUBBLE_FRAME_STATS")
                .filter(|v| !v.is_empty())
                .map(|path| (path.into(), Vec::new())),
        }
    }

    /// The current route.
    pub fn route(&self) -> &Route {
        &self.history[self.position]
    }

    /// The configuration requests use.
    pub fn config(&self) -> &HubConfig {
        self.worker.config()
    }

    /// The files picked in a model's Files tab (what the download issue will fetch).
    pub fn selected_files(&self, repo: &RepoId) -> Option<&BTreeSet<String>> {
        self.pages.get(repo).map(|page| &page.selected)
    }

    /// The revision an open model page shows (its revision picker's choice).
    pub fn model_revision(&self, repo: &RepoId) -> Option<&str> {
        self.pages.get(repo).map(|page| page.revision.as_str())
    }

    /// The downloads (what the Downloads panel shows).
    pub fn downloads(&self) -> &Downloads {
        &self.downloads
    }

    /// The Cache page's last scan, if one finished.
    pub fn cache_report(&self) -> Option<&crate::cache::manage::CacheReport> {
        self.cache_page.report()
    }

    /// Opens the Cache page and scans the cache again.
    pub fn open_cache(&mut self, ctx: &egui::Context) {
        self.cache_page.refresh(
            &self.worker.handle(),
            ctx,
            self.worker.config().hub_cache.clone(),
        );
        self.navigate(Route::Cache);
    }

    /// Opens the Compare view, adding `repo` to the models compared.
    pub fn open_compare(&mut self, repo: Option<RepoId>) {
        if let Some(repo) = repo {
            self.compare.add(repo);
        }
        self.navigate(Route::Compare);
    }

    /// The Compare view's finished comparison, if any.
    pub fn comparison(&self) -> Option<&crate::compare::Comparison> {
        self.compare.comparison()
    }

    /// The Fit tab of an open model page (the Try tab reports measured memory through it).
    pub fn fit_view_mut(&mut self, repo: &RepoId) -> Option<&mut FitView> {
        self.pages.get_mut(repo).map(|page| &mut page.fit)
    }

    /// The Fit tab of an open model page.
    pub fn fit_view(&self, repo: &RepoId) -> Option<&FitView> {
        self.pages.get(repo).map(|page| &page.fit)
    }

    /// The Server page (tests read its address).
    pub fn server_page(&self) -> &ServerPage {
        &self.server_page
    }

    /// The Server page (tests set its port).
    pub fn server_page_mut(&mut self) -> &mut ServerPage {
        &mut self.server_page
    }

    /// Whether the offline banner is up.
    pub fn is_offline(&self) -> bool {
        self.offline.is_some()
    }

    /// Opens a model page (from a result, or by id).
    pub fn open_model(&mut self, id: &str) {
        match RepoId::parse(id) {
            Ok(repo) => self.open_link(ModelLink {
                repo,
                revision: None,
            }),
            Err(error) => self.toasts.error(error.to_string()),
        }
    }

    /// Opens a model page at a link's revision (an open page of another revision is replaced).
    pub fn open_link(&mut self, link: ModelLink) {
        let revision = link
            .revision
            .unwrap_or_else(|| DEFAULT_REVISION.to_string());
        let repo = link.repo;
        if self.pages.get(&repo).is_none_or(|p| p.revision != revision) {
            let page = ModelView::open(repo.clone(), revision, &mut self.worker);
            self.pages.insert(repo.clone(), page);
        }
        self.navigate(Route::Model(repo));
    }

    /// The revision an open model page shows.
    pub fn page_revision(&self, repo: &RepoId) -> Option<&str> {
        self.pages.get(repo).map(|page| page.revision.as_str())
    }

    fn navigate(&mut self, route: Route) {
        if *self.route() == route {
            return;
        }
        self.history.truncate(self.position + 1);
        self.history.push(route);
        self.position = self.history.len() - 1;
    }

    /// Opens a dataset page (from a model card's `datasets:` link, or by id).
    pub fn open_dataset(&mut self, id: &str) {
        let repo = match RepoId::parse(id) {
            Ok(repo) => repo,
            Err(error) => {
                self.toasts.error(error.to_string());
                return;
            }
        };
        if !self.datasets.contains_key(&repo) {
            let page = DatasetView::open(repo.clone(), &mut self.worker);
            self.datasets.insert(repo.clone(), page);
        }
        self.navigate(Route::Dataset(repo));
    }

    /// Goes back in history, if it can.
    pub fn back(&mut self) {
        self.position = self.position.saturating_sub(1);
    }

    /// Goes forward in history, if it can.
    pub fn forward(&mut self) {
        if self.position + 1 < self.history.len() {
            self.position += 1;
        }
    }

    /// Rebuilds the client after a settings or token change.
    fn reconfigure(&mut self) {
        let config = HubConfig::from_env(&self.settings.overrides(&self.options.command_line));
        if config != *self.worker.config() {
            self.worker.set_config(config);
            self.pages.clear();
            self.datasets.clear();
            self.dataset_search = DatasetSearch::default();
            self.collections = CollectionsView::default();
            self.spaces = SpacesView::default();
            self.cache_page = CachePage::default();
            self.history = vec![Route::Search];
            self.position = 0;
            self.go_online();
        }
    }

    fn go_online(&mut self) {
        if self.worker.config().offline {
            return;
        }
        self.offline = None;
        self.search.use_cache = false;
        self.search.refresh();
    }

    fn handle_error(&mut self, error: &HubError) {
        if is_unreachable(error) && !self.search.use_cache {
            self.offline = Some(format!(
                "Can't reach {}: showing the models in your cache.",
                self.worker.config().endpoint
            ));
            self.search.use_cache = true;
            self.search.refresh();
        }
        self.toasts.error(error.to_string());
    }

    fn pump_replies(&mut self) {
        let endpoint = self.worker.config().endpoint.clone();
        for reply in self.worker.poll() {
            let mut reply = Some(reply);
            let mut error = self.search.on_reply(&mut reply);
            for page in self.pages.values_mut() {
                if reply.is_none() {
                    break;
                }
                error = error.or(page.on_reply(&mut reply, &endpoint));
            }
            for page in self.datasets.values_mut() {
                page.on_reply(&mut reply, &endpoint);
            }
            self.dataset_search.on_reply(&mut reply);
            self.collections.on_reply(&mut reply);
            self.spaces.on_reply(&mut reply);
            if let Some(error) = error {
                self.handle_error(&error);
            }
        }
    }

    fn shortcuts(&mut self, ctx: &egui::Context) {
        if ctx.input_mut(|i| i.consume_key(Modifiers::COMMAND, Key::Q)) {
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        }
        let (cache, compare, downloads) = ctx.input_mut(|i| {
            (
                i.consume_key(Modifiers::COMMAND | Modifiers::SHIFT, Key::C),
                i.consume_key(Modifiers::COMMAND | Modifiers::SHIFT, Key::A),
                i.consume_key(Modifiers::COMMAND, Key::J),
            )
        });
        if cache {
            self.open_cache(ctx);
        }
        if compare {
            self.open_compare(None);
        }
        if downloads {
            self.downloads.open = !self.downloads.open;
        }
        let (focus, back, forward) = ctx.input_mut(|i| {
            let focus = i.consume_key(Modifiers::COMMAND, Key::K)
                | i.consume_key(Modifiers::COMMAND, Key::L);
            let back = i.consume_key(Modifiers::ALT, Key::ArrowLeft)
                | i.pointer.button_pressed(egui::PointerButton::Extra1);
            let forward = i.consume_key(Modifiers::ALT, Key::ArrowRight)
                | i.pointer.button_pressed(egui::PointerButton::Extra2);
            (focus, back, forward)
        });
        if focus {
            self.navigate(Route::Search);
            self.search.focus();
        }
        if back {
            self.back();
        }
        if forward {
            self.forward();
        }
    }

    fn top_bar(&mut self, ui: &mut egui::Ui) {
        egui::Panel::top("top-bar").show(ui, |ui| {
            ui.horizontal(|ui| {
                let can_back = self.position > 0;
                let can_forward = self.position + 1 < self.history.len();
                if ui
                    .add_enabled(can_back, egui::Button::new("Back"))
                    .on_hover_text("Alt+Left")
                    .clicked()
                {
                    self.back();
                }
                if ui
                    .add_enabled(can_forward, egui::Button::new("Forward"))
                    .on_hover_text("Alt+Right")
                    .clicked()
                {
                    self.forward();
                }
                if ui
                    .selectable_label(*self.route() == Route::Search, "Search")
                    .on_hover_text("Ctrl+K")
                    .clicked()
                {
                    self.navigate(Route::Search);
                    self.search.focus();
                }
                if ui
                    .selectable_label(*self.route() == Route::Datasets, "Datasets")
                    .clicked()
                {
                    self.navigate(Route::Datasets);
                }
                if ui
                    .selectable_label(*self.route() == Route::Collections, "Collections")
                    .clicked()
                {
                    self.navigate(Route::Collections);
                }
                if ui
                    .selectable_label(*self.route() == Route::Spaces, "Spaces")
                    .clicked()
                {
                    self.navigate(Route::Spaces);
                }
                if ui
                    .selectable_label(*self.route() == Route::Cache, "Cache")
                    .on_hover_text("Ctrl+Shift+C")
                    .clicked()
                {
                    self.open_cache(ui.ctx());
                }
                if ui
                    .selectable_label(*self.route() == Route::Server, "Server")
                    .on_hover_text("Serve the cached models over the OpenAI API")
                    .clicked()
                {
                    self.navigate(Route::Server);
                }
                if ui
                    .selectable_label(*self.route() == Route::Compare, "Compare models")
                    .on_hover_text("Cached models side by side (Ctrl+Shift+A)")
                    .clicked()
                {
                    self.open_compare(None);
                }
                ui.label(RichText::new("Hubble").strong());
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    if ui.button("About").clicked() {
                        self.about_open = !self.about_open;
                    }
                    if ui.button("Settings").clicked() {
                        self.settings_window.open = !self.settings_window.open;
                    }
                    if ui
                        .selectable_label(self.downloads.open, "Downloads")
                        .on_hover_text("Ctrl+J")
                        .clicked()
                    {
                        self.downloads.open = !self.downloads.open;
                    }
                    let active = self.downloads.active();
                    if active > 0 {
                        ui.label(RichText::new(format!("{active} active")).weak());
                    }
                });
            });
            if let Some(banner) = self.offline.clone() {
                egui::Frame::new()
                    .fill(ui.visuals().warn_fg_color.gamma_multiply(0.15))
                    .inner_margin(6.0)
                    .show(ui, |ui| {
                        ui.horizontal(|ui| {
                            ui.label(RichText::new(banner).color(ui.visuals().warn_fg_color));
                            if !self.worker.config().offline && ui.button("Try online").clicked() {
                                self.go_online();
                            }
                        });
                    });
            }
        });
    }

    /// The whole UI for one frame (used by eframe and by the tests' harness).
    pub fn show(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        for link in self.options.links.take() {
            self.open_link(link);
            ctx.send_viewport_cmd(egui::ViewportCommand::Focus);
        }
        self.pump_replies();
        if self.downloads.poll(&ctx, &self.worker, &mut self.toasts)
            && *self.route() == Route::Cache
        {
            self.open_cache(&ctx);
        }
        self.shortcuts(&ctx);
        self.top_bar(ui);
        if self.downloads.open {
            let actions = egui::Panel::right("downloads")
                .resizable(true)
                .default_size(400.0)
                .show(ui, |ui| panel::show(ui, &self.downloads))
                .inner;
            for action in actions {
                self.downloads.apply(action, &self.worker, &mut self.toasts);
            }
        }
        match self.route().clone() {
            Route::Search => {
                if let Some(SearchAction::Open(id)) = self.search.show(ui, &mut self.worker) {
                    self.open_model(&id);
                }
            }
            Route::Model(repo) => {
                egui::CentralPanel::default().show(ui, |ui| match self.pages.get_mut(&repo) {
                    Some(page) => page.show(ui, &mut self.worker),
                    None => {
                        // Pages are dropped when the settings change; reopen.
                        let page = ModelView::open(
                            repo.clone(),
                            DEFAULT_REVISION.to_string(),
                            &mut self.worker,
                        );
                        self.pages.insert(repo.clone(), page);
                    }
                });
                if let Some(spec) = self.pages.get_mut(&repo).and_then(|p| p.download.take()) {
                    self.downloads.start(spec, &self.worker, &mut self.toasts);
                }
                if self.pages.get_mut(&repo).is_some_and(|p| p.take_compare()) {
                    self.open_compare(Some(repo));
                }
            }
            Route::Compare => {
                let hub_cache = self.worker.config().hub_cache.clone();
                let pace = self.worker.stream_pace();
                egui::CentralPanel::default()
                    .show(ui, |ui| self.compare.show(ui, &hub_cache, pace));
            }
            Route::Datasets => {
                let action = egui::CentralPanel::default()
                    .show(ui, |ui| self.dataset_search.show(ui, &mut self.worker))
                    .inner;
                if let Some(DatasetSearchAction::Open(id)) = action {
                    self.open_dataset(&id);
                }
            }
            Route::Collections => {
                let action = egui::CentralPanel::default()
                    .show(ui, |ui| self.collections.show(ui, &mut self.worker))
                    .inner;
                match action {
                    Some(CollectionsAction::OpenModel(id)) => self.open_model(&id),
                    Some(CollectionsAction::OpenDataset(id)) => self.open_dataset(&id),
                    None => {}
                }
            }
            Route::Spaces => {
                egui::CentralPanel::default().show(ui, |ui| self.spaces.show(ui, &mut self.worker));
            }
            Route::Dataset(repo) => {
                egui::CentralPanel::default().show(ui, |ui| match self.datasets.get_mut(&repo) {
                    Some(page) => page.show(ui, &mut self.worker),
                    None => {
                        let page = DatasetView::open(repo.clone(), &mut self.worker);
                        self.datasets.insert(repo.clone(), page);
                    }
                });
                if let Some(spec) = self.datasets.get_mut(&repo).and_then(|p| p.download.take()) {
                    self.downloads.start(spec, &self.worker, &mut self.toasts);
                }
            }
            Route::Cache => {
                let runtime = self.worker.handle();
                let root = self.worker.config().hub_cache.clone();
                let action = egui::CentralPanel::default()
                    .show(ui, |ui| {
                        self.cache_page.show(ui, &runtime, &root, &mut self.toasts)
                    })
                    .inner;
                match action {
                    Some(CacheAction::OpenModel(id)) => self.open_model(&id),
                    Some(CacheAction::Compare(repo)) => self.open_compare(Some(repo)),
                    None => {}
                }
            }
            Route::Server => {
                let config = self.worker.config().clone();
                egui::CentralPanel::default().show(ui, |ui| self.server_page.show(ui, &config));
            }
        }
        let endpoint = self.worker.config().endpoint.clone();
        if let Some(dataset) = take_dataset_link(&ctx, &endpoint) {
            self.open_dataset(dataset.as_str());
        }
        if let Some(action) = self
            .settings_window
            .show(&ctx, &self.settings, self.worker.config())
        {
            match action {
                SettingsAction::Apply(settings) => {
                    self.settings = Settings {
                        recent_searches: self.search.recent.clone(),
                        ..settings
                    };
                    self.settings.apply_look(&ctx);
                    self.reconfigure();
                }
                SettingsAction::TokenChanged => {
                    self.reconfigure();
                    self.toasts.info("Token updated.");
                }
            }
        }
        about::show(
            &ctx,
            &mut self.about_open,
            &self.options.renderer,
            self.worker.config(),
            self.worker.system(),
        );
        self.toasts.show(&ctx);
        self.frames += 1;
        if self.frames == 1 && self.options.exit_after_first_frame {
            if let Some(started) = self.options.started {
                println!(
                    "first frame: {:.1} ms ({} on {})",
                    started.elapsed().as_secs_f64() * 1000.0,
                    self.options.renderer.renderer,
                    self.options.renderer.adapter
                );
            }
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        }
    }
}

impl eframe::App for HubbleApp {
    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        if let (Some((_, times)), Some(cpu)) = (&mut self.frame_stats, frame.info().cpu_usage) {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            times.push((now, cpu * 1000.0));
        }
        self.show(ui);
    }

    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        if let Some((path, times)) = &self.frame_stats {
            let text: String = times
                .iter()
                .map(|(at, ms)| format!("{at:.3} {ms:.3}\n"))
                .collect();
            if let Err(e) = std::fs::write(path, text) {
                eprintln!(
                    "hubble: could not write frame stats to {}: {e}",
                    path.display()
                );
            }
        }
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        self.settings.recent_searches = self.search.recent.clone();
        eframe::set_value(storage, STORAGE_KEY, &self.settings);
    }
}
