//! Pages put together from what they share and what they load, once, the first time one is
//! served. In an embedded HTML file, a line that holds only
//! - `<!--#include parts/NAME.html -->` stands for the embedded file `parts/NAME.html`, so the
//!   review page, the share page and the home page keep one copy of the markup they have in
//!   common (the artifact's stage, the comments panel, the confirmation dialog); parts include
//!   nothing themselves;
//! - `<!--#modulepreload js/PATH.js -->` stands for a `<link rel="modulepreload">` to every module
//!   that module imports, directly or not (read from its `from '…'` clauses): the browser fetches
//!   them all at once instead of discovering them one level of imports at a time, and the list
//!   cannot fall behind the code.

use std::collections::HashMap;
use std::sync::LazyLock;

use bytes::Bytes;
use include_dir::{Dir, DirEntry, File};

use super::ASSETS;

const INCLUDE: &str = "<!--#include ";
const MODULEPRELOAD: &str = "<!--#modulepreload ";

/// Every embedded page that holds a directive, put together.
static PAGES: LazyLock<HashMap<&'static str, Bytes>> = LazyLock::new(|| {
    let mut files = Vec::new();
    html_files(&ASSETS, &mut files);
    files
        .into_iter()
        .filter_map(|file| {
            let path = file.path().to_str()?;
            let page = file.contents_utf8()?;
            page.contains("<!--#")
                .then(|| (path, Bytes::from(assemble(page).into_bytes())))
        })
        .collect()
});

/// The bytes to serve for the embedded file at `path`: a page put together, any other file as it
/// is (not copied).
pub(super) fn contents(path: &str, file: &'static File<'static>) -> Bytes {
    match PAGES.get(path) {
        Some(page) => page.clone(),
        None => Bytes::from_static(file.contents()),
    }
}

fn html_files(dir: &'static Dir<'static>, out: &mut Vec<&'static File<'static>>) {
    for entry in dir.entries() {
        match entry {
            DirEntry::Dir(d) => html_files(d, out),
            DirEntry::File(f) if f.path().extension().is_some_and(|e| e == "html") => out.push(f),
            DirEntry::File(_) => {}
        }
    }
}

fn assemble(page: &str) -> String {
    let mut out = String::with_capacity(page.len() * 2);
    for line in page.split_inclusive('\n') {
        if let Some(part) = argument(line, INCLUDE)
            .filter(|name| name.starts_with("parts/"))
            .and_then(embedded_text)
        {
            out.push_str(part);
        } else if let Some(entry) =
            argument(line, MODULEPRELOAD).filter(|e| embedded_text(e).is_some())
        {
            for module in imports_of(entry) {
                out.push_str(&format!(
                    "<link rel=\"modulepreload\" href=\"/assets/{module}\">\n"
                ));
            }
        } else {
            out.push_str(line);
        }
    }
    out
}

/// The argument of `directive` when `line` holds only it; never a path that climbs out.
fn argument<'a>(line: &'a str, directive: &str) -> Option<&'a str> {
    let arg = line
        .trim()
        .strip_prefix(directive)?
        .strip_suffix("-->")?
        .trim();
    (!arg.is_empty() && !arg.contains("..")).then_some(arg)
}

/// An embedded file's text.
fn embedded_text(path: &str) -> Option<&'static str> {
    ASSETS.get_file(path)?.contents_utf8()
}

/// The embedded modules `entry` imports, directly or through others, each once, in the order
/// they are first met (depth first); `entry` itself is not among them.
fn imports_of(entry: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut pending = vec![entry.to_string()];
    while let Some(module) = pending.pop() {
        let Some(text) = embedded_text(&module) else {
            continue;
        };
        let mut direct: Vec<String> = text
            .split("from '")
            .skip(1)
            .filter_map(|rest| rest.split_once('\'').map(|(spec, _)| spec))
            .filter_map(|spec| resolve(&module, spec))
            .filter(|import| embedded_text(import).is_some())
            .collect();
        direct.reverse();
        for import in direct {
            if import != entry && !found.contains(&import) {
                found.push(import.clone());
                pending.push(import);
            }
        }
    }
    found
}

/// `spec` (`./x.js`, `../y/z.js`), imported by the module at `from`, as a path under assets/.
fn resolve(from: &str, spec: &str) -> Option<String> {
    if !spec.starts_with("./") && !spec.starts_with("../") {
        return None;
    }
    let mut parts: Vec<&str> = from.split('/').collect();
    parts.pop();
    for piece in spec.split('/') {
        match piece {
            "." => {}
            ".." => {
                parts.pop()?;
            }
            name => parts.push(name),
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served(path: &str) -> String {
        let file = ASSETS.get_file(path).expect("embedded");
        String::from_utf8(contents(path, file).to_vec()).expect("utf-8")
    }

    #[test]
    fn every_directive_of_every_page_names_an_embedded_file_and_none_is_left_in_what_is_served() {
        let mut files = Vec::new();
        html_files(&ASSETS, &mut files);
        let mut directives = 0;
        for file in files {
            let path = file.path().to_str().expect("utf-8 path");
            let text = file.contents_utf8().expect("utf-8 page");
            for line in text.lines().filter(|l| l.contains("<!--#")) {
                let named = argument(line, INCLUDE)
                    .filter(|n| n.starts_with("parts/"))
                    .or_else(|| argument(line, MODULEPRELOAD))
                    .unwrap_or_else(|| panic!("{path}: {line:?} is no directive"));
                let target = embedded_text(named).unwrap_or_else(|| panic!("{path}: {named}"));
                assert!(!target.contains("<!--#"), "{named} holds a directive");
                directives += 1;
            }
            assert!(
                !served(path).contains("<!--#"),
                "{path} served with a directive left"
            );
        }
        assert!(
            directives >= 12,
            "the pages share their parts ({directives} directives)"
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
    fn a_page_preloads_every_module_its_script_imports_directly_or_not_and_nothing_else() {
        let review = served("review.html");
        let preloaded: Vec<&str> = review
            .lines()
            .filter_map(|l| l.strip_prefix("<link rel=\"modulepreload\" href=\"/assets/"))
            .filter_map(|l| l.strip_suffix("\">"))
            .collect();
        // Imported by main.js itself, by a module it imports, and two levels down.
        for module in [
            "js/review/frame.js",
            "js/review/frame-link.js",
            "js/dom.js",
            "js/api.js",
        ] {
            assert!(preloaded.contains(&module), "{module} in {preloaded:?}");
        }
        assert!(
            !preloaded.contains(&"js/review/main.js"),
            "the entry loads itself"
        );
        assert!(
            !preloaded.iter().any(|m| m.starts_with("js/share/")),
            "{preloaded:?}"
        );
        let mut once = preloaded.clone();
        once.sort();
        once.dedup();
        assert_eq!(once.len(), preloaded.len(), "each module once");
        // Each preloaded module is one the closure reaches, and each exists.
        for module in &preloaded {
            assert!(embedded_text(module).is_some(), "{module}");
        }
        assert_eq!(preloaded.len(), imports_of("js/review/main.js").len());
    }

    #[test]
    fn other_files_and_lines_that_only_look_like_directives_are_served_as_they_are() {
        let css = ASSETS.get_file("app.css").expect("embedded");
        assert_eq!(&contents("app.css", css)[..], css.contents());
        assert_eq!(
            argument("    <!--#include parts/x.html -->\n", INCLUDE),
            Some("parts/x.html")
        );
        assert_eq!(argument("<!--#include ../Cargo.toml -->", INCLUDE), None);
        assert_eq!(argument("<!--#include parts/../../x -->", INCLUDE), None);
        assert_eq!(
            argument("<p><!--#include parts/x.html --></p>", INCLUDE),
            None
        );
        assert_eq!(
            resolve("js/review/main.js", "../dom.js").as_deref(),
            Some("js/dom.js")
        );
        assert_eq!(
            resolve("js/review/main.js", "./frame.js").as_deref(),
            Some("js/review/frame.js")
        );
        assert_eq!(resolve("js/main.js", "../../x.js"), None);
        assert_eq!(resolve("js/main.js", "https://example.com/x.js"), None);
    }
}
