//! What browsers load: the embedded settings UI pages, and the sandboxed artifact viewer.

pub mod pages;
pub mod viewer;

use crate::api::router::Router;

pub fn routes(r: &mut Router) {
    pages::routes(r);
    viewer::routes(r);
}
