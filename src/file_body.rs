//! A stored file's bytes as a response body, read from the database a slice at a time as the
//! client takes them. A download (a file of a ZIP may be up to 50 MB) then holds one slice in
//! memory however slowly its client reads, rather than the whole file: 200 stalled downloads of a
//! 5 MB file held a gigabyte.

use futures_util::stream;
use warp::reply::{Reply, Response};

use crate::store::{blobs, Store};

/// The bytes read from the database at a time.
const SLICE: u64 = 256 * 1024;

/// Whether a file of `size` bytes is sent a slice at a time (a smaller one is read whole).
pub fn sliced(size: u64) -> bool {
    size > SLICE
}

/// A 200 answer whose body is the content with this SHA-256, of `size` bytes, read a slice at a
/// time (with its Content-Length). A content removed meanwhile (its artifact deleted) ends the
/// body early, which the client sees as an incomplete download.
pub fn response(store: Store, sha256: Vec<u8>, size: u64) -> Response {
    let slices = stream::unfold(
        (store, sha256, 0u64),
        move |(store, sha256, offset)| async move {
            if offset >= size {
                return None;
            }
            let len = SLICE.min(size - offset);
            let key = sha256.clone();
            let read = store
                .read(move |conn| blobs::slice(conn, &key, size, offset, len))
                .await;
            let slice = match read {
                Ok(Some(bytes)) if !bytes.is_empty() => Ok(bytes::Bytes::from(bytes)),
                Ok(_) => Err(std::io::Error::other(
                    "the file's content was removed during its download",
                )),
                Err(e) => Err(std::io::Error::other(e.to_string())),
            };
            // After a failure the body ends: nothing past a gap may be sent.
            let next = match &slice {
                Ok(bytes) => offset + bytes.len() as u64,
                Err(_) => size,
            };
            Some((slice, (store, sha256, next)))
        },
    );
    let mut response = warp::reply::stream(slices).into_response();
    response.headers_mut().insert(
        warp::http::header::CONTENT_LENGTH,
        warp::http::HeaderValue::from(size),
    );
    response
}
