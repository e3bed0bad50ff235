//! The model page's Community tab: discussions and pull requests with their status (read-only),
//! and the Spaces that use the model (SDK, likes, open in the browser). Both load the first
//! time the tab is shown.

use eframe::egui::{self, Color32};

use crate::format::{count, relative_time};
use crate::hub::{Discussion, Discussions, RepoId, SpaceInfo};
use crate::ui::browse::spaces_view::space_rows;
use crate::ui::runtime::worker::{Job, Outcome, Reply, Ticket, Worker};
use crate::ui::widgets::{chip, error_box};

/// One list of the tab.
enum List<T> {
    NotAsked,
    Loading(Ticket),
    Ready(T),
    Failed(String),
}

impl<T> List<T> {
    /// The id of the request in flight.
    fn ticket(&self) -> Option<u64> {
        match self {
            List::Loading(ticket) => Some(ticket.id),
            _ => None,
        }
    }

    /// A failed list is asked for again the next time it is shown.
    fn forget_failure(&mut self) {
        if matches!(self, List::Failed(_)) {
            *self = List::NotAsked;
        }
    }
}

/// The Community tab's state.
pub struct CommunityView {
    repo: RepoId,
    discussions: List<Discussions>,
    spaces: List<Vec<SpaceInfo>>,
}

impl CommunityView {
    /// Nothing is requested until the tab is shown.
    pub fn new(repo: RepoId) -> CommunityView {
        CommunityView {
            repo,
            discussions: List::NotAsked,
            spaces: List::NotAsked,
        }
    }

    /// Takes the reply if it is one of this tab's.
    pub fn on_reply(&mut self, reply: &mut Option<Reply>) {
        let Some(id) = reply.as_ref().map(|r| r.id) else {
            return;
        };
        if self.discussions.ticket() != Some(id) && self.spaces.ticket() != Some(id) {
            return;
        }
        match reply.take().map(|r| r.outcome) {
            Some(Outcome::Discussions(result)) => {
                self.discussions = result.map_or_else(|e| List::Failed(e.to_string()), List::Ready);
            }
            Some(Outcome::Spaces(result)) => {
                self.spaces = result.map_or_else(|e| List::Failed(e.to_string()), List::Ready);
            }
            _ => {}
        }
    }

    /// Shows the tab, requesting what it has not asked for yet.
    pub fn show(&mut self, ui: &mut egui::Ui, worker: &mut Worker, endpoint: &str) {
        if matches!(self.discussions, List::NotAsked) {
            self.discussions = List::Loading(worker.submit(Job::Discussions(self.repo.clone())));
        }
        if matches!(self.spaces, List::NotAsked) {
            self.spaces = List::Loading(worker.submit(Job::Spaces(self.repo.clone())));
        }
        let mut retry = false;
        egui::ScrollArea::vertical()
            .auto_shrink([false, false])
            .show(ui, |ui| {
                ui.heading("Discussions and pull requests");
                match &self.discussions {
                    List::NotAsked | List::Loading(_) => {
                        ui.spinner();
                    }
                    List::Failed(error) => retry |= error_box(ui, error),
                    List::Ready(list) => discussions(ui, list, &self.repo, endpoint),
                }
                ui.add_space(12.0);
                ui.heading("Spaces using this model");
                match &self.spaces {
                    List::NotAsked | List::Loading(_) => {
                        ui.spinner();
                    }
                    List::Failed(error) => retry |= error_box(ui, error),
                    List::Ready(list) => spaces(ui, list, endpoint),
                }
            });
        if retry {
            self.discussions.forget_failure();
            self.spaces.forget_failure();
        }
    }
}

fn discussions(ui: &mut egui::Ui, list: &Discussions, repo: &RepoId, endpoint: &str) {
    let open = list.count.saturating_sub(list.num_closed);
    ui.label(format!(
        "{} open, {} closed",
        count(open),
        count(list.num_closed)
    ));
    if list.discussions.is_empty() {
        ui.label("No discussions yet.");
        return;
    }
    let now = chrono::Utc::now();
    egui::Grid::new("discussions")
        .striped(true)
        .num_columns(4)
        .show(ui, |ui| {
            for d in &list.discussions {
                status_chip(ui, d);
                let url = format!("{endpoint}/{repo}/discussions/{}", d.num);
                ui.hyperlink_to(format!("#{} {}", d.num, d.title), url);
                let author = d
                    .author
                    .as_ref()
                    .map_or("deleted user", |a| a.name.as_str());
                let when = d
                    .created_at
                    .as_deref()
                    .map(|t| relative_time(t, now))
                    .unwrap_or_default();
                ui.label(format!("{author}  ·  {when}"));
                ui.label(format!("{} comments", count(d.num_comments)));
                ui.end_row();
            }
        });
}

/// `PR · merged`, `Discussion · open`, coloured by status.
fn status_chip(ui: &mut egui::Ui, d: &Discussion) {
    let kind = if d.is_pull_request {
        "PR"
    } else {
        "Discussion"
    };
    let color = match d.status.as_str() {
        "open" => Color32::from_rgb(40, 160, 90),
        "merged" => Color32::from_rgb(130, 80, 200),
        "draft" => Color32::GRAY,
        _ => Color32::from_rgb(200, 70, 70),
    };
    chip(ui, &format!("{kind} · {}", d.status), color);
}

fn spaces(ui: &mut egui::Ui, list: &[SpaceInfo], endpoint: &str) {
    if list.is_empty() {
        ui.label("No Space uses this model yet.");
        return;
    }
    space_rows(ui, "spaces", list, endpoint);
}
