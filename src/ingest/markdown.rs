//! Markdown -> a complete, standalone HTML5 document for viewing. Raw HTML in the Markdown passes
//! through: the result is always served under a CSP sandbox without `allow-same-origin`.

use pulldown_cmark::{html, Event, Options, Parser, Tag, TagEnd};

/// Typography for rendered Markdown: readable line length, system fonts, light and dark schemes.
const STYLE: &str = "\
:root{color-scheme:light dark}\
body{margin:0;padding:2rem 1rem;font:16px/1.6 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;\
color:#1f2328;background:#fff}\
main{max-width:46rem;margin:0 auto}\
h1,h2,h3,h4,h5,h6{line-height:1.25;margin:1.6em 0 .6em}\
h1{font-size:2em;border-bottom:1px solid #d0d7de;padding-bottom:.3em}\
h2{font-size:1.5em;border-bottom:1px solid #d0d7de;padding-bottom:.3em}\
a{color:#0969da}\
img{max-width:100%}\
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em}\
code{background:rgba(175,184,193,.2);padding:.1em .3em;border-radius:4px}\
pre{background:#f6f8fa;padding:1em;overflow:auto;border-radius:6px}\
pre code{background:none;padding:0}\
blockquote{margin:0;padding:0 1em;color:#59636e;border-left:.25em solid #d0d7de}\
table{border-collapse:collapse;display:block;overflow:auto}\
th,td{border:1px solid #d0d7de;padding:.3em .8em}\
hr{border:0;border-top:1px solid #d0d7de}\
@media (prefers-color-scheme:dark){body{color:#e6edf3;background:#0d1117}\
a{color:#4493f8}pre{background:#161b22}blockquote{color:#9198a1}}";

fn options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_YAML_STYLE_METADATA_BLOCKS
        | Options::ENABLE_GFM
}

/// Markdown -> a complete HTML5 document: UTF-8 meta, viewport, a title taken from the first
/// heading (else `title_fallback`), a small embedded stylesheet and the rendered body.
pub fn render_markdown(markdown: &str, title_fallback: &str) -> String {
    let title = first_heading(markdown).unwrap_or_else(|| title_fallback.trim().to_string());
    let mut body = String::with_capacity(markdown.len() + markdown.len() / 2);
    html::push_html(&mut body, Parser::new_ext(markdown, options()));

    let mut page = String::with_capacity(body.len() + STYLE.len() + 300);
    page.push_str("<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n");
    page.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    page.push_str("<title>");
    page.push_str(&escape_html(&title));
    page.push_str("</title>\n<style>");
    page.push_str(STYLE);
    page.push_str("</style>\n</head>\n<body>\n<main>\n");
    page.push_str(&body);
    page.push_str("</main>\n</body>\n</html>\n");
    page
}

/// The plain text of the first heading, whitespace collapsed; `None` when there is no heading or
/// it has no text.
fn first_heading(markdown: &str) -> Option<String> {
    let mut inside = false;
    let mut text = String::new();
    for event in Parser::new_ext(markdown, options()) {
        match event {
            Event::Start(Tag::Heading { .. }) => inside = true,
            Event::End(TagEnd::Heading(_)) => break,
            Event::Text(t) | Event::Code(t) if inside => text.push_str(&t),
            Event::SoftBreak | Event::HardBreak if inside => text.push(' '),
            _ => {}
        }
    }
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    (!collapsed.is_empty()).then_some(collapsed)
}

pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::render_markdown;

    #[test]
    fn the_document_is_complete_and_titled_by_the_first_heading() {
        let page = render_markdown("Intro text\n\n## The *real* `title`\n\n# Later", "notes.md");
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.contains("<meta charset=\"utf-8\">"));
        assert!(page.contains("<title>The real title</title>"));
        assert!(page.contains("<style>"));
        assert!(page.contains("<p>Intro text</p>"));
        assert!(page.trim_end().ends_with("</html>"));
    }

    #[test]
    fn without_a_heading_the_title_is_the_escaped_fallback() {
        let page = render_markdown("just text", "a<b>.md");
        assert!(page.contains("<title>a&lt;b&gt;.md</title>"));
    }

    #[test]
    fn tables_and_task_lists_render_and_raw_html_passes_through() {
        let md = "| a | b |\n|---|---|\n| 1 | 2 |\n\n- [x] done\n\n<div class=\"x\">raw</div>\n";
        let page = render_markdown(md, "t");
        assert!(page.contains("<table>"));
        assert!(page.contains("type=\"checkbox\""));
        assert!(page.contains("<div class=\"x\">raw</div>"));
    }

    #[test]
    fn front_matter_is_not_rendered_as_text() {
        let page = render_markdown("---\ntitle: x\n---\n\n# Head\n", "t");
        assert!(!page.contains("title: x"));
        assert!(page.contains("<title>Head</title>"));
    }
}
