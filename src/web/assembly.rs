//! Pages put together from the parts they share: a line that holds only
//! `<!--#include parts/NAME.html -->` in an embedded HTML file stands for the embedded file
//! `parts/NAME.html`, so the review page, the share page and the home page keep one copy of the
//! markup they have in common (the artifact's stage, the comments panel, the confirmation dialog).
//! Parts include nothing themselves. A page is put together when it is served: a few kilobytes
//! scanned once per page load.

use std::borrow::Cow;

use bytes::Bytes;
use include_dir::File;

use super::ASSETS;

const DIRECTIVE: &str = "<!--#include ";

/// The bytes to serve for the embedded file at `path`: an HTML page with its parts in, any other
/// file as it is (not copied).
pub(super) fn contents(path: &str, file: &'static File<'static>) -> Bytes {
    match assembled(path, file) {
        Cow::Borrowed(bytes) => Bytes::from_static(bytes),
        Cow::Owned(bytes) => Bytes::from(bytes),
    }
}

fn assembled(path: &str, file: &'static File<'static>) -> Cow<'static, [u8]> {
    let bytes = file.contents();
    let page = match std::str::from_utf8(bytes) {
        Ok(text) if path.ends_with(".html") && text.contains(DIRECTIVE) => text,
        _ => return Cow::Borrowed(bytes),
    };
    let mut out = String::with_capacity(page.len() * 2);
    for line in page.split_inclusive('\n') {
        match part_named(line).and_then(part) {
            Some(part) => out.push_str(part),
            None => out.push_str(line),
        }
    }
    Cow::Owned(out.into_bytes())
}

/// The name in an include line, if `line` is one.
fn part_named(line: &str) -> Option<&str> {
    let name = line
        .trim()
        .strip_prefix(DIRECTIVE)?
        .strip_suffix("-->")?
        .trim();
    (name.starts_with("parts/") && !name.contains("..")).then_some(name)
}

/// An embedded part's text.
fn part(name: &str) -> Option<&'static str> {
    ASSETS.get_file(name)?.contents_utf8()
}

#[cfg(test)]
mod tests {
    use include_dir::{Dir, DirEntry};

    use super::*;

    fn html_files(dir: &'static Dir<'static>, out: &mut Vec<&'static File<'static>>) {
        for entry in dir.entries() {
            match entry {
                DirEntry::Dir(d) => html_files(d, out),
                DirEntry::File(f) if f.path().extension().is_some_and(|e| e == "html") => {
                    out.push(f)
                }
                DirEntry::File(_) => {}
            }
        }
    }

    fn served(path: &str) -> String {
        let file = ASSETS.get_file(path).expect("embedded");
        String::from_utf8(assembled(path, file).into_owned()).expect("utf-8")
    }

    #[test]
    fn every_include_of_every_page_is_an_embedded_part_and_none_is_left_in_what_is_served() {
        let mut files = Vec::new();
        html_files(&ASSETS, &mut files);
        let mut includes = 0;
        for file in files {
            let path = file.path().to_str().expect("utf-8 path");
            let text = file.contents_utf8().expect("utf-8 page");
            for line in text.lines().filter(|l| l.contains(DIRECTIVE)) {
                let name = part_named(line).unwrap_or_else(|| panic!("{path}: {line:?}"));
                assert!(part(name).is_some(), "{path} includes {name}, not embedded");
                assert!(
                    !part(name).unwrap_or_default().contains(DIRECTIVE),
                    "{name} includes"
                );
                includes += 1;
            }
            assert!(
                !served(path).contains(DIRECTIVE),
                "{path} served with an include left"
            );
        }
        assert!(
            includes >= 9,
            "the pages share their parts ({includes} includes)"
        );
    }

    #[test]
    fn the_review_and_share_pages_get_the_same_comments_panel_with_their_own_lines_around_it() {
        let review = served("review.html");
        let share = served("share.html");
        for page in [&review, &share] {
            assert_eq!(page.matches("id=\"composer\"").count(), 1);
            assert_eq!(page.matches("id=\"artifact-frame\"").count(), 1);
            assert_eq!(page.matches("id=\"confirm-dialog\"").count(), 1);
            assert!(page.contains("Alt+↓ and Alt+↑ move between threads"));
        }
        assert!(share.contains("id=\"read-only-hint\""));
        assert!(!review.contains("id=\"read-only-hint\""));
        assert!(review.contains("id=\"rename-dialog\""));
    }

    #[test]
    fn other_files_and_lines_that_only_look_like_includes_are_served_as_they_are() {
        let css = ASSETS.get_file("app.css").expect("embedded");
        assert!(matches!(assembled("app.css", css), Cow::Borrowed(_)));
        assert_eq!(
            part_named("    <!--#include parts/x.html -->\n"),
            Some("parts/x.html")
        );
        assert_eq!(part_named("<!--#include ../Cargo.toml -->"), None);
        assert_eq!(part_named("<!--#include parts/../../x -->"), None);
        assert_eq!(part_named("<p><!--#include parts/x.html --></p>"), None);
    }
}
