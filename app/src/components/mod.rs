//! The dashboard's parts: the asset table, the upload panel, and what they share (the page
//! handle and its notices). The page itself, with its list and filters, is `pages::dashboard`.

pub mod asset_table;
pub mod page;
pub mod uploads;
