//! Entry point rules applied to whole archives (after the common folder is stripped).

use super::builders::{prepare_zip, prepare_zip_with_entry, refusal, zip_named, TestResult};

fn entry_of(names: &[&str]) -> Result<String, Box<dyn std::error::Error>> {
    Ok(prepare_zip(zip_named(names)?)?.entry_point)
}

#[test]
fn the_requested_entry_point_is_used_when_it_is_a_page_in_the_archive() -> TestResult {
    let bytes = zip_named(&["site/index.html", "site/docs/guide.html"])?;
    assert_eq!(
        prepare_zip_with_entry(bytes.clone(), "docs/guide.html")?.entry_point,
        "docs/guide.html"
    );
    assert_eq!(
        prepare_zip_with_entry(bytes, "site/docs/guide.html")?.entry_point,
        "docs/guide.html"
    );
    Ok(())
}

#[test]
fn a_requested_entry_point_that_is_missing_is_refused_listing_the_pages() -> TestResult {
    let bytes = zip_named(&["index.html", "docs/guide.md", "app.js"])?;
    let (code, msg) = refusal(prepare_zip_with_entry(bytes, "nope.html"));
    assert_eq!(code, "invalid_entry_point");
    assert!(msg.contains("docs/guide.md, index.html"), "{msg}");
    assert!(!msg.contains("app.js"), "{msg}");
    Ok(())
}

#[test]
fn index_html_at_the_root_is_the_default_entry_point() -> TestResult {
    assert_eq!(
        entry_of(&["a.html", "index.html", "README.md"])?,
        "index.html"
    );
    Ok(())
}

#[test]
fn without_index_html_the_first_root_html_in_name_order_is_used() -> TestResult {
    assert_eq!(
        entry_of(&["z.html", "m.htm", "README.md", "a/index.html"])?,
        "m.htm"
    );
    Ok(())
}

#[test]
fn without_html_readme_md_is_preferred_over_index_md() -> TestResult {
    assert_eq!(entry_of(&["index.md", "README.md", "a.md"])?, "README.md");
    Ok(())
}

#[test]
fn without_readme_index_md_is_used() -> TestResult {
    assert_eq!(entry_of(&["a.md", "index.md", "style.css"])?, "index.md");
    Ok(())
}

#[test]
fn without_readme_or_index_the_first_root_markdown_is_used() -> TestResult {
    assert_eq!(
        entry_of(&["b.md", "a.md", "docs/index.html", "x.txt"])?,
        "a.md"
    );
    Ok(())
}

#[test]
fn an_archive_without_any_root_page_is_refused_listing_the_pages_it_has() -> TestResult {
    let (code, msg) = refusal(prepare_zip(zip_named(&["x/a.html", "y/b.md", "c.css"])?));
    assert_eq!(code, "no_entry_point");
    assert!(
        msg.contains("HTML and Markdown files found: x/a.html, y/b.md"),
        "{msg}"
    );
    Ok(())
}

#[test]
fn an_archive_without_any_page_says_there_are_none() -> TestResult {
    let (code, msg) = refusal(prepare_zip(zip_named(&["a.css", "b.js"])?));
    assert_eq!(code, "no_entry_point");
    assert!(msg.contains("include no HTML or Markdown file"), "{msg}");
    Ok(())
}

#[test]
fn an_empty_archive_has_no_entry_point() -> TestResult {
    let (code, msg) = refusal(prepare_zip(zip_named(&[])?));
    assert_eq!(code, "no_entry_point");
    assert!(msg.contains("contains no files"), "{msg}");
    Ok(())
}
