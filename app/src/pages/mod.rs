pub mod dashboard;
mod listing;
