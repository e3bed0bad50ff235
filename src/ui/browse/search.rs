//! The search view: the search box (debounced search-as-you-type), the facets panel and the
//! virtualised results list with infinite scroll; each row has a fit badge once the system
//! probe is done.

use std::cell::OnceCell;

use eframe::egui::{self, Align2, Color32, FontId, Key, RichText, Sense};
use url::Url;

use crate::card::classify;
use crate::fit::badge::{FitBadge, fit_badge};
use crate::fit::system::SystemInfo;
use crate::format::{count, params, relative_time};
use crate::hub::{HubError, ModelInfo, ModelPage, ModelQuery};
use crate::ui::browse::facets::{FacetChange, Facets};
use crate::ui::model_page::fit_bars::badge_color;
use crate::ui::runtime::tasks::task_label;
use crate::ui::runtime::worker::{Job, Outcome, Reply, Ticket, Worker};
use crate::ui::widgets::{error_box, family_color};

/// Seconds between the last keystroke and the search.
pub const DEBOUNCE_SECS: f64 = 0.25;
/// Whether a search whose input last changed at `dirty_at` (input time; `None`: nothing to do)
/// is due at `now`; if it is not due yet, a repaint is asked for when it will be.
pub(super) fn debounced(ctx: &egui::Context, dirty_at: Option<f64>, now: f64) -> bool {
    let Some(dirty) = dirty_at else {
        return false;
    };
    let wait = dirty + DEBOUNCE_SECS - now;
    if wait > 0.0 {
        ctx.request_repaint_after(std::time::Duration::from_secs_f64(wait));
    }
    wait <= 0.0
}

/// Results per page.
const PAGE_SIZE: usize = 50;
/// Height of one result row.
const ROW_HEIGHT: f32 = 46.0;
/// How many recent searches are kept.
const MAX_RECENT: usize = 12;

/// One result, with its display text worked out once when it arrives.
pub struct ResultRow {
    /// The model.
    pub info: ModelInfo,
    subtitle: String,
    license: Option<(String, Color32)>,
    /// The fit badge, worked out from the listing data the first time the row is drawn with
    /// the system known.
    badge: OnceCell<Option<FitBadge>>,
}

impl ResultRow {
    fn new(info: ModelInfo, now: chrono::DateTime<chrono::Utc>) -> ResultRow {
        let mut parts = Vec::new();
        if let Some(task) = &info.pipeline_tag {
            parts.push(task_label(task));
        }
        if let Some(n) = info.parameter_count() {
            parts.push(format!("{} params", params(n)));
        }
        if let Some(when) = &info.last_modified {
            parts.push(format!("updated {}", relative_time(when, now)));
        }
        if let Some(n) = info.downloads {
            parts.push(format!("{} downloads", count(n)));
        }
        if let Some(n) = info.likes {
            parts.push(format!("{} likes", count(n)));
        }
        let license = info.license().map(|id| {
            let family = classify(Some(&id), None, None).family;
            (id, family_color(family))
        });
        ResultRow {
            subtitle: parts.join("  ·  "),
            license,
            info,
            badge: OnceCell::new(),
        }
    }

    /// The fit badge, once the row has been drawn with the system known (`None` also when the
    /// listing has no size information).
    pub fn fit_badge(&self) -> Option<&FitBadge> {
        self.badge.get().and_then(Option::as_ref)
    }

    fn badge_for(&self, system: &SystemInfo) -> Option<&FitBadge> {
        self.badge
            .get_or_init(|| fit_badge(&self.info, system))
            .as_ref()
    }
}

/// What the search view asks the app to do.
pub enum SearchAction {
    /// Open this model's page.
    Open(String),
}

/// The search view's state.
pub struct SearchState {
    /// The search box text.
    pub text: String,
    /// The facets panel.
    pub facets: Facets,
    /// The results so far (every page loaded).
    pub rows: Vec<ResultRow>,
    next: Option<Url>,
    first_page: Option<Ticket>,
    more: Option<Ticket>,
    /// The last search error, shown inline.
    pub error: Option<String>,
    /// When (input time) the query last changed; the search runs `DEBOUNCE_SECS` later.
    dirty_at: Option<f64>,
    selected: usize,
    scroll_to_selected: bool,
    focus_box: bool,
    /// List cached models instead of searching the Hub (offline).
    pub use_cache: bool,
    /// Recent searches, newest first (persisted by the app).
    pub recent: Vec<String>,
    /// The text of the search the rows are for.
    shown_text: String,
}

impl Default for SearchState {
    fn default() -> SearchState {
        SearchState {
            text: String::new(),
            facets: Facets::default(),
            rows: Vec::new(),
            next: None,
            first_page: None,
            more: None,
            error: None,
            dirty_at: Some(f64::NEG_INFINITY),
            selected: 0,
            scroll_to_selected: false,
            focus_box: true,
            use_cache: false,
            recent: Vec::new(),
            shown_text: String::new(),
        }
    }
}

impl SearchState {
    /// The query for the current text and facets.
    pub fn query(&self) -> ModelQuery {
        let mut query = ModelQuery::text(&self.text);
        self.facets.apply(&mut query);
        query.page_size = Some(PAGE_SIZE);
        query
    }

    /// Asks for the search box to take keyboard focus on the next frame.
    pub fn focus(&mut self) {
        self.focus_box = true;
    }

    /// Searches again now (after a retry, or when going on- or offline).
    pub fn refresh(&mut self) {
        self.dirty_at = Some(f64::NEG_INFINITY);
    }

    /// Whether a request is in flight.
    pub fn is_loading(&self) -> bool {
        self.first_page.is_some() || self.more.is_some()
    }

    /// Cancels what is in flight and starts the search for the current text and facets.
    fn start(&mut self, worker: &mut Worker) {
        for ticket in [self.first_page.take(), self.more.take()]
            .into_iter()
            .flatten()
        {
            ticket.cancel();
        }
        self.dirty_at = None;
        let job = if self.use_cache {
            Job::Cached(self.text.clone())
        } else {
            Job::Search(self.query())
        };
        self.first_page = Some(worker.submit(job));
    }

    /// Takes a reply if it is for this view's current request; returns the error of a failed
    /// search so the app can toast it (and switch to the cache when the Hub is unreachable).
    /// Replies for superseded requests are dropped.
    pub fn on_reply(&mut self, reply: &mut Option<Reply>) -> Option<HubError> {
        let id = reply.as_ref()?.id;
        let first = self.first_page.as_ref().is_some_and(|t| t.id == id);
        let more = self.more.as_ref().is_some_and(|t| t.id == id);
        if !first && !more {
            return None;
        }
        let Some(Reply {
            outcome: Outcome::Page(result),
            ..
        }) = reply.take()
        else {
            return None;
        };
        if first {
            self.first_page = None;
        } else {
            self.more = None;
        }
        match result {
            Ok(ModelPage { models, next }) => {
                let now = chrono::Utc::now();
                if first {
                    self.rows.clear();
                    self.selected = 0;
                    self.shown_text = self.text.clone();
                    self.remember(self.text.clone());
                }
                self.rows
                    .extend(models.into_iter().map(|m| ResultRow::new(m, now)));
                self.next = next;
                self.error = None;
                None
            }
            Err(error) => {
                self.error = Some(error.to_string());
                Some(error)
            }
        }
    }

    fn remember(&mut self, text: String) {
        let text = text.trim().to_string();
        if text.is_empty() {
            return;
        }
        self.recent.retain(|r| *r != text);
        self.recent.insert(0, text);
        self.recent.truncate(MAX_RECENT);
    }

    /// Shows the view. `worker` runs the searches.
    pub fn show(&mut self, ui: &mut egui::Ui, worker: &mut Worker) -> Option<SearchAction> {
        let now = ui.input(|i| i.time);
        let mut action = None;
        egui::Panel::left("facets")
            .resizable(true)
            .default_size(230.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| match self.facets.show(ui) {
                    FacetChange::Picked => self.dirty_at = Some(f64::NEG_INFINITY),
                    FacetChange::Typed => self.dirty_at = Some(now),
                    FacetChange::None => {}
                });
            });
        egui::CentralPanel::default().show(ui, |ui| {
            let box_id = self.search_box(ui, now);
            self.keys(ui, box_id, &mut action);
            if debounced(ui.ctx(), self.dirty_at, now) {
                self.start(worker);
            }
            if let Some(error) = self.error.clone()
                && error_box(ui, &error)
            {
                self.refresh();
            }
            self.results(ui, worker, &mut action);
        });
        action
    }

    fn search_box(&mut self, ui: &mut egui::Ui, now: f64) -> egui::Id {
        let id = ui.make_persistent_id("hubble-search-box");
        if std::mem::take(&mut self.focus_box) {
            // Like a browser's address bar: focusing selects the text, so typing replaces it.
            // Done before the box reads this frame's input, so keys typed right after the
            // shortcut (in the same frame) already replace the selection.
            ui.memory_mut(|m| m.request_focus(id));
            let mut state = egui::TextEdit::load_state(ui.ctx(), id).unwrap_or_default();
            let all = egui::text_selection::CCursorRange::select_all_str(&self.text);
            state.cursor.set_char_range(Some(all));
            state.store(ui.ctx(), id);
        }
        let response = ui
            .horizontal(|ui| {
                let label = ui.label(RichText::new("Search models").strong());
                let edit = egui::TextEdit::singleline(&mut self.text)
                    .id(id)
                    .hint_text("Type a model name…  (Ctrl+K)")
                    .desired_width(ui.available_width() - 120.0);
                let response = ui.add(edit).labelled_by(label.id);
                if self.is_loading() {
                    ui.spinner();
                }
                response
            })
            .inner;
        if response.changed() {
            self.dirty_at = Some(now);
        }
        if self.text.is_empty() && !self.recent.is_empty() {
            ui.horizontal_wrapped(|ui| {
                ui.label(RichText::new("Recent:").weak());
                let mut picked = None;
                for recent in &self.recent {
                    if ui.small_button(recent).clicked() {
                        picked = Some(recent.clone());
                    }
                }
                if let Some(text) = picked {
                    self.text = text;
                    self.dirty_at = Some(f64::NEG_INFINITY);
                }
            });
        }
        ui.horizontal(|ui| {
            let what = if self.use_cache {
                "cached models"
            } else {
                "models"
            };
            let more = if self.next.is_some() { "+" } else { "" };
            ui.label(
                RichText::new(format!("{}{more} {what}", self.rows.len()))
                    .small()
                    .weak(),
            );
            if self.facets.active() > 0 {
                ui.label(
                    RichText::new(format!("· {} filters", self.facets.active()))
                        .small()
                        .weak(),
                );
            }
        });
        response.id
    }

    fn keys(&mut self, ui: &mut egui::Ui, box_id: egui::Id, action: &mut Option<SearchAction>) {
        let focused = ui.ctx().memory(|m| m.focused());
        if focused.is_some_and(|f| f != box_id) {
            return;
        }
        let (step, enter) = ui.input_mut(|i| {
            let mut step: isize = 0;
            for (key, by) in [
                (Key::ArrowDown, 1),
                (Key::ArrowUp, -1),
                (Key::PageDown, 10),
                (Key::PageUp, -10),
                (Key::End, isize::MAX / 2),
                (Key::Home, isize::MIN / 2),
            ] {
                if i.consume_key(egui::Modifiers::NONE, key) {
                    step = step.saturating_add(by);
                }
            }
            (step, i.key_pressed(Key::Enter))
        });
        if self.rows.is_empty() {
            return;
        }
        if step != 0 {
            let last = self.rows.len() as isize - 1;
            self.selected = (self.selected as isize).saturating_add(step).clamp(0, last) as usize;
            self.scroll_to_selected = true;
        }
        if enter {
            if self.dirty_at.is_some() && self.text != self.shown_text {
                self.dirty_at = Some(f64::NEG_INFINITY);
            } else if let Some(row) = self.rows.get(self.selected) {
                *action = Some(SearchAction::Open(row.info.id.clone()));
            }
        }
    }

    fn results(
        &mut self,
        ui: &mut egui::Ui,
        worker: &mut Worker,
        action: &mut Option<SearchAction>,
    ) {
        if self.rows.is_empty() {
            if !self.is_loading() && self.error.is_none() && self.dirty_at.is_none() {
                ui.add_space(20.0);
                ui.label("No models match.");
            }
            return;
        }
        let total = self.rows.len() + usize::from(self.next.is_some());
        let spacing = ui.spacing().item_spacing.y;
        let mut scroll = egui::ScrollArea::vertical().auto_shrink([false, false]);
        if std::mem::take(&mut self.scroll_to_selected) {
            let top = self.selected as f32 * (ROW_HEIGHT + spacing);
            let view = ui.available_height();
            let current = ui
                .ctx()
                .data(|d| d.get_temp::<f32>(egui::Id::unique("results-offset")))
                .unwrap_or(0.0);
            if top < current {
                scroll = scroll.vertical_scroll_offset(top);
            } else if top + ROW_HEIGHT > current + view {
                scroll = scroll.vertical_scroll_offset(top + ROW_HEIGHT - view + spacing);
            }
        }
        let system = worker.system();
        let output = scroll.show_rows(ui, ROW_HEIGHT, total, |ui, range| {
            for index in range.clone() {
                match self.rows.get(index) {
                    Some(row) => {
                        let badge = system.and_then(|s| row.badge_for(s));
                        let response = result_row(ui, row, index == self.selected, badge);
                        if response.clicked() {
                            self.selected = index;
                            *action = Some(SearchAction::Open(row.info.id.clone()));
                        }
                    }
                    None => {
                        ui.add_sized([ui.available_width(), ROW_HEIGHT], egui::Spinner::new());
                    }
                }
            }
            range.end + 10 >= self.rows.len()
        });
        ui.ctx().data_mut(|d| {
            d.insert_temp(
                egui::Id::unique("results-offset"),
                output.state.clamped_offset().y,
            )
        });
        if output.inner
            && self.more.is_none()
            && self.first_page.is_none()
            && self.error.is_none()
            && let Some(next) = self.next.clone()
        {
            self.more = Some(worker.submit(Job::NextPage(next)));
        }
    }
}

/// One result row, painted directly (cheap for thousands of rows); its accessible label is the
/// model id. The fit badge is a hover area of its own (`Fit: GPU`, the numbers on hover).
fn result_row(
    ui: &mut egui::Ui,
    row: &ResultRow,
    selected: bool,
    badge: Option<&FitBadge>,
) -> egui::Response {
    let width = ui.available_width();
    let (rect, response) = ui.allocate_exact_size(egui::vec2(width, ROW_HEIGHT), Sense::click());
    response
        .widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, row.info.id.as_str()));
    if !ui.is_rect_visible(rect) {
        return response;
    }
    let visuals = ui.visuals();
    let painter = ui.painter();
    if selected || response.hovered() {
        let fill = if selected {
            visuals.selection.bg_fill.gamma_multiply(0.5)
        } else {
            visuals.widgets.hovered.weak_bg_fill
        };
        painter.rect_filled(rect, 4.0, fill);
    }
    let left = rect.left() + 8.0;
    painter.text(
        egui::pos2(left, rect.top() + 5.0),
        Align2::LEFT_TOP,
        &row.info.id,
        FontId::proportional(15.0),
        visuals.strong_text_color(),
    );
    painter.text(
        egui::pos2(left, rect.top() + 26.0),
        Align2::LEFT_TOP,
        &row.subtitle,
        FontId::proportional(12.0),
        visuals.weak_text_color(),
    );
    let mut right = rect.right() - 8.0;
    if let Some((license, color)) = &row.license {
        right = painted_chip(ui, license, *color, right, rect.top()).left() - 6.0;
    }
    if let Some(badge) = badge {
        let text = format!("fit: {}", badge.label);
        let chip = painted_chip(ui, &text, badge_color(badge.level), right, rect.top());
        let id = ui.scope_id().with(("fit-badge", &row.info.id));
        let label = format!("Fit: {}", badge.label);
        ui.interact(chip, id, Sense::hover())
            .on_hover_text(format!(
                "Will it fit this machine? {}. From the listing's weight sizes only; open the \
                 model's Fit tab for the exact estimate.",
                badge.tooltip
            ))
            .widget_info(|| egui::WidgetInfo::labeled(egui::Role::Label, true, &label));
    }
    response
}

/// A small rounded chip painted with its right edge at `right`; returns its rectangle.
fn painted_chip(ui: &egui::Ui, text: &str, color: Color32, right: f32, top: f32) -> egui::Rect {
    let painter = ui.painter();
    let galley = painter.layout_no_wrap(text.to_string(), FontId::proportional(11.0), color);
    let size = galley.size() + egui::vec2(12.0, 4.0);
    let chip = egui::Rect::from_min_size(egui::pos2(right - size.x, top + 6.0), size);
    painter.rect(
        chip,
        8.0,
        color.gamma_multiply(0.15),
        egui::Stroke::new(1.0, color.gamma_multiply(0.6)),
        egui::StrokeKind::Inside,
    );
    painter.galley(chip.min + egui::vec2(6.0, 2.0), galley, color);
    chip
}
