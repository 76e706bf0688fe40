pub mod dashboard;
pub mod keys;
mod listing;
pub mod sign_in;
