//! Tests of `prepare` and `Prepared::contents` on whole uploads, with every archive built here.

mod archives;
mod bombs;
mod builders;
mod entry_points;
mod limits;
mod properties;
mod refusals;
mod single_files;
