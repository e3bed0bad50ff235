//! One model's page: the header, the rendered card (with its HTML), files, Fit, community,
//! remote inference; the Try tab lives in [`crate::ui::r#try`].

pub(crate) mod card_view;
pub(crate) mod community;
pub(crate) mod files;
pub(crate) mod fit_bars;
pub(crate) mod fit_tab;
pub(crate) mod html;
pub(crate) mod model;
pub(crate) mod remote_chat;
pub(crate) mod remote_tasks;
