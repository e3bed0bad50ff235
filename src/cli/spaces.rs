//! `hubble spaces`: search Spaces, or list the ones that use a model.

use clap::Args;

use super::format::{Table, count, relative_time};
use super::print_json;
use crate::hub::{HubClient, HubError, RepoId, SpaceQuery};

/// Arguments of `hubble spaces`.
#[derive(Debug, Args)]
pub struct SpacesArgs {
    /// Text to look for in Space ids.
    pub query: Option<String>,
    /// Only Spaces that use this model.
    #[arg(long, value_name = "REPO")]
    pub model: Option<RepoId>,
    /// How many Spaces to show (most liked first).
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Print JSON (an array of Spaces: id, sdk, likes, last_modified, models) instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Runs `hubble spaces`.
pub async fn run(client: &HubClient, args: SpacesArgs) -> Result<(), HubError> {
    let query = SpaceQuery {
        search: args.query,
        model: args.model.map(|m| m.to_string()),
        limit: args.limit,
    };
    let spaces = client.search_spaces(&query).await?;
    if args.json {
        return print_json(&spaces);
    }
    let now = chrono::Utc::now();
    let mut table = Table::new(&["SPACE", "SDK", "LIKES", "UPDATED", "URL"]);
    for space in &spaces {
        table.row(vec![
            space.id.clone(),
            space.sdk.clone().unwrap_or_default(),
            count(space.likes.unwrap_or(0)),
            space
                .last_modified
                .as_deref()
                .map(|t| relative_time(t, now))
                .unwrap_or_default(),
            format!("{}/spaces/{}", client.config().endpoint, space.id),
        ]);
    }
    if table.is_empty() {
        eprintln!("No Spaces found.");
    } else {
        print!("{}", table.render());
    }
    Ok(())
}
