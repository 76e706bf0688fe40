//! The dashboard's parts: the asset table, the upload panel, and what they share (the page
//! handle and its notices, the two-step confirmation); the signed-in header; the API key
//! table and forms. The pages
//! themselves are in `pages`.

pub mod api_keys;
pub mod asset_table;
pub mod confirm;
pub mod header;
mod intake;
pub mod integrity;
pub mod page;
pub mod preview;
pub mod selection;
mod upload_flow;
pub mod uploads;
pub mod when;
