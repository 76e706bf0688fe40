pub mod dashboard;
pub mod keys;
pub(crate) mod listing;
mod listing_live;
pub mod sign_in;
