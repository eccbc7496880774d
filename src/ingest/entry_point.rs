//! Where a ZIP artifact starts: stripping the common top-level folder ("compress folder" zips,
//! sometimes several levels deep) and choosing the entry point by the spec's rules.

use super::{paths, IngestError};

/// While every path sits under the same top-level folder, strips that folder from all of them.
/// Returns what was stripped (`"project/dist/"`), or `""`.
pub fn strip_common_folder(paths: &mut [String]) -> String {
    let mut stripped = String::new();
    loop {
        let Some(first) = paths.first() else {
            return stripped;
        };
        let Some((folder, _)) = first.split_once('/') else {
            return stripped;
        };
        let prefix = format!("{folder}/");
        if !paths.iter().all(|p| p.starts_with(&prefix)) {
            return stripped;
        }
        for path in paths.iter_mut() {
            path.replace_range(..prefix.len(), "");
        }
        stripped.push_str(&prefix);
    }
}

/// The entry point among `files` (sorted by path, common folder already stripped): the
/// requested one when given; else `index.html` at the root; else the first root `.html`/`.htm`;
/// else `README.md`, then `index.md`, at the root; else the first root `.md`/`.markdown`.
/// The special names are matched ignoring ASCII case (collisions are already refused).
pub fn choose(
    files: &[String],
    requested: Option<&str>,
    stripped: &str,
) -> Result<String, IngestError> {
    if let Some(requested) = requested.filter(|r| !r.trim().is_empty()) {
        return check_requested(files, requested, stripped);
    }
    let root: Vec<&String> = files.iter().filter(|p| !p.contains('/')).collect();
    let named = |name: &str| root.iter().find(|p| p.eq_ignore_ascii_case(name));
    let found = named("index.html")
        .or_else(|| root.iter().find(|p| paths::is_html(p)))
        .or_else(|| named("README.md"))
        .or_else(|| named("index.md"))
        .or_else(|| root.iter().find(|p| paths::is_markdown(p)));
    match found {
        Some(path) => Ok(path.to_string()),
        None => Err(IngestError::NoEntryPoint {
            found: viewable(files),
            file_count: files.len(),
        }),
    }
}

fn check_requested(
    files: &[String],
    requested: &str,
    stripped: &str,
) -> Result<String, IngestError> {
    let refuse = |reason: &'static str| IngestError::InvalidEntryPoint {
        given: requested.to_string(),
        reason,
        candidates: viewable(files),
    };
    let path = paths::normalise(requested.trim().as_bytes())
        .map_err(|_| refuse("it is not a safe relative path inside the archive"))?;
    let path = if files.contains(&path) {
        path
    } else {
        // Also accept the path as it was before the common folder was stripped.
        match path.strip_prefix(stripped) {
            Some(rest) if !stripped.is_empty() && files.iter().any(|f| f == rest) => {
                rest.to_string()
            }
            _ => {
                return Err(refuse(
                    "it is not a file in the archive (paths are relative to the archive root, \
                     after any common top-level folder is stripped)",
                ))
            }
        }
    };
    if paths::is_html(&path) || paths::is_markdown(&path) {
        Ok(path)
    } else {
        Err(refuse(
            "it must be an HTML (.html, .htm) or Markdown (.md, .markdown) file",
        ))
    }
}

/// Every HTML and Markdown file, for messages.
fn viewable(files: &[String]) -> Vec<String> {
    files
        .iter()
        .filter(|p| paths::is_html(p) || paths::is_markdown(p))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(paths: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = paths.iter().map(|p| p.to_string()).collect();
        v.sort();
        v
    }

    fn pick(paths: &[&str]) -> Result<String, IngestError> {
        choose(&owned(paths), None, "")
    }

    #[test]
    fn index_html_at_the_root_wins() -> Result<(), IngestError> {
        assert_eq!(pick(&["a.html", "index.html", "README.md"])?, "index.html");
        Ok(())
    }

    #[test]
    fn otherwise_the_first_root_html_in_name_order() -> Result<(), IngestError> {
        assert_eq!(
            pick(&["zeta.html", "beta.htm", "README.md", "docs/index.html"])?,
            "beta.htm"
        );
        Ok(())
    }

    #[test]
    fn otherwise_readme_md_then_index_md() -> Result<(), IngestError> {
        assert_eq!(
            pick(&["a.md", "index.md", "README.md", "x/index.html"])?,
            "README.md"
        );
        assert_eq!(pick(&["a.md", "index.md", "style.css"])?, "index.md");
        Ok(())
    }

    #[test]
    fn otherwise_the_first_root_markdown() -> Result<(), IngestError> {
        assert_eq!(pick(&["notes.markdown", "b.md", "img.png"])?, "b.md");
        Ok(())
    }

    #[test]
    fn no_root_page_lists_the_pages_found_deeper() {
        let err = pick(&["a/x.html", "b/y.md", "style.css"]).err();
        let msg = err.as_ref().map(ToString::to_string).unwrap_or_default();
        assert_eq!(err.map(|e| e.code()), Some("no_entry_point"));
        assert!(msg.contains("a/x.html, b/y.md"), "{msg}");
    }

    #[test]
    fn stripping_repeats_while_everything_shares_one_folder() {
        let mut paths = owned(&["project/dist/index.html", "project/dist/css/a.css"]);
        assert_eq!(strip_common_folder(&mut paths), "project/dist/");
        assert_eq!(paths, owned(&["index.html", "css/a.css"]));
        let mut mixed = owned(&["a/index.html", "b.html"]);
        assert_eq!(strip_common_folder(&mut mixed), "");
    }

    #[test]
    fn a_requested_entry_point_may_use_the_unstripped_path() -> Result<(), IngestError> {
        let files = owned(&["index.html", "docs/guide.md"]);
        assert_eq!(
            choose(&files, Some("./docs/guide.md"), "site/")?,
            "docs/guide.md"
        );
        assert_eq!(
            choose(&files, Some("site/docs/guide.md"), "site/")?,
            "docs/guide.md"
        );
        Ok(())
    }

    #[test]
    fn a_requested_entry_point_must_be_a_page_in_the_archive() {
        let files = owned(&["index.html", "app.js"]);
        for bad in ["missing.html", "app.js", "../index.html"] {
            let err = choose(&files, Some(bad), "").err();
            let msg = err.as_ref().map(ToString::to_string).unwrap_or_default();
            assert_eq!(err.map(|e| e.code()), Some("invalid_entry_point"), "{bad}");
            assert!(msg.contains("index.html"), "{msg}");
        }
    }
}
