//! Big files from the dashboard: the plan of a multipart upload (pure) and the browser-side run
//! that sends its parts; what a drop or a paste brings (`dropped`).

pub(crate) mod dropped;
pub(crate) mod hash;
pub(crate) mod parts;
pub(crate) mod plan;
