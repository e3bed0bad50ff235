//! `hubble collections`: search collections, or show one with every item.

use clap::{Args, Subcommand};

use super::format::{Table, count, relative_time};
use super::print_json;
use crate::hub::{Collection, CollectionQuery, HubClient, HubError};

/// Arguments of `hubble collections`.
#[derive(Debug, Args)]
pub struct CollectionsArgs {
    /// Search (default) or show one.
    #[command(subcommand)]
    pub command: Option<CollectionsCommand>,
    /// Text to look for in titles.
    pub query: Option<String>,
    /// Only this user's or organisation's collections.
    #[arg(long)]
    pub owner: Option<String>,
    /// Only collections holding this item: `models/org/name`, `datasets/…` or `spaces/…`.
    #[arg(long, value_name = "TYPE/ID")]
    pub item: Option<String>,
    /// How many to show.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `hubble collections show SLUG`.
#[derive(Debug, Subcommand)]
pub enum CollectionsCommand {
    /// Show one collection with every item.
    Show {
        /// `owner/title-id`, as the search lists it.
        slug: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

impl CollectionsArgs {
    /// Whether `--json` was asked for.
    pub fn json(&self) -> bool {
        match &self.command {
            Some(CollectionsCommand::Show { json, .. }) => *json,
            None => self.json,
        }
    }
}

/// Runs `hubble collections`.
pub async fn run(client: &HubClient, args: CollectionsArgs) -> Result<(), HubError> {
    if let Some(CollectionsCommand::Show { slug, json }) = &args.command {
        let collection = client.collection(slug).await?;
        if *json {
            return print_json(&collection);
        }
        print!("{}", describe(&collection));
        return Ok(());
    }
    let query = CollectionQuery {
        search: args.query,
        owner: args.owner,
        item: args.item,
        limit: args.limit,
    };
    let found = client.search_collections(&query).await?;
    if args.json {
        return print_json(&found);
    }
    let now = chrono::Utc::now();
    let mut table = Table::new(&["SLUG", "TITLE", "ITEMS", "UPVOTES", "UPDATED"]);
    for c in &found {
        let items: Vec<&str> = c.items.iter().map(|i| i.id.as_str()).collect();
        table.row(vec![
            c.slug.clone(),
            c.title.clone(),
            items.join(", "),
            count(c.upvotes),
            c.last_updated
                .as_deref()
                .map(|t| relative_time(t, now))
                .unwrap_or_default(),
        ]);
    }
    if table.is_empty() {
        eprintln!("No collections found.");
    } else {
        print!("{}", table.render());
    }
    Ok(())
}

fn describe(c: &Collection) -> String {
    let mut text = format!("{} (by {}, {} upvotes)\n", c.title, c.owner.name, c.upvotes);
    if let Some(description) = c.description.as_deref().filter(|d| !d.is_empty()) {
        text.push_str(&format!("  {description}\n"));
    }
    let mut table = Table::new(&["TYPE", "ID", "NOTE"]);
    for item in &c.items {
        table.row(vec![
            item.item_type.clone(),
            item.id.clone(),
            item.note
                .as_ref()
                .map(|n| n.text.clone())
                .unwrap_or_default(),
        ]);
    }
    text.push_str(&table.render());
    text
}
