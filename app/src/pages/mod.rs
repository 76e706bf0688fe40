pub mod dashboard;
pub mod keys;
pub(crate) mod listing;
mod listing_live;
pub mod search;
pub mod sign_in;
