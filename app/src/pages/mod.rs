pub mod dashboard;
pub mod keys;
mod listing;
pub mod search;
pub mod sign_in;
