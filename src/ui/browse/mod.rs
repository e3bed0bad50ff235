//! Finding things on the Hub: model search with its facets, datasets (search, page, preview),
//! Spaces and collections.

pub(crate) mod collections_view;
pub(crate) mod dataset_page;
pub(crate) mod dataset_preview;
pub(crate) mod dataset_search;
pub(crate) mod facets;
pub(crate) mod search;
pub(crate) mod spaces_view;
