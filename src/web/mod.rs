//! What browsers load: the embedded pages (settings, artifacts home, review page), the sandboxed
//! artifact viewer with its injected bridge, and the HTML error pages a person sees instead of JSON.

mod bridge;
mod error_page;
mod pages;
mod review;
mod viewer;

use include_dir::{include_dir, Dir};

use crate::api::router::Router;

/// The pages' files, embedded in the binary.
static ASSETS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/assets");

pub fn routes(r: &mut Router) {
    pages::routes(r);
    review::routes(r);
    viewer::routes(r);
    bridge::routes(r);
}
