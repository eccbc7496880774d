//! Markdown -> a complete, standalone HTML5 document for viewing. Raw HTML in the Markdown passes
//! through: the result is always served under a CSP sandbox without `allow-same-origin`.
//!
//! Rendering is bounded, whatever the document: the parser keeps a node for every piece of markup
//! (up to 65 bytes each: 5 MB of `[` took 340 MB), so a document is rendered only up to
//! `MAX_MARKUP` pieces, estimated before parsing (`markup_cost`); past `MAX_NESTING` open
//! elements, deeper quotes, lists and the like are flattened (5 MB of `>` made a 141 MB
//! document); and the output stops at `MAX_OUTPUT` bytes. A document cut short says so at its top,
//! with how much of it is shown.

use std::fmt;

use pulldown_cmark::{html, Event, Options, Parser, Tag, TagEnd};

/// Pieces of markup (see `markup_cost`) rendered at most, about 50 MB of parser nodes at worst;
/// 5 MB of this project's own README (tables, lists, code) counts 540,000.
pub const MAX_MARKUP: usize = 800_000;
/// Elements open at once at most; deeper ones are flattened into their parent.
pub const MAX_NESTING: usize = 32;
/// Bytes of rendered HTML at most.
pub const MAX_OUTPUT: usize = 16 * 1024 * 1024;
/// Changes whenever the same Markdown renders differently (it is part of a rendered document's
/// ETag, so browsers do not keep an older rendering): 2 gave headings ids.
pub const RENDERING: u32 = 2;

/// A rendered document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub html: String,
    /// Why the document is shown only in part, if it is.
    pub cut: Option<Cut>,
}

/// Why a rendered document stops early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// Only the first `shown` bytes of the source were rendered (too much markup).
    Markup { shown: usize, total: usize },
    /// The rendered HTML reached `MAX_OUTPUT`.
    Output { total: usize },
}

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
/// heading (else `title_fallback`), a small embedded stylesheet and the rendered body, within the
/// bounds above.
pub fn render_markdown(markdown: &str, title_fallback: &str) -> Rendered {
    render(markdown, title_fallback, MAX_OUTPUT)
}

fn render(markdown: &str, title_fallback: &str, max_output: usize) -> Rendered {
    // A byte-order mark (as Windows editors write) is not text: "\u{feff}# Title" is a heading.
    let markdown = markdown.strip_prefix('\u{feff}').unwrap_or(markdown);
    let shown = renderable_prefix(markdown);
    let source = &markdown[..shown];
    let mut cut = (shown < markdown.len()).then_some(Cut::Markup {
        shown,
        total: markdown.len(),
    });
    let mut body = Capped {
        out: String::with_capacity(source.len() + source.len() / 4),
        room: max_output,
    };
    let mut title = Heading::default();
    let events = HeadingIds::new(Flattened::new(Parser::new_ext(source, options())))
        .inspect(|e| title.see(e));
    if html::write_html_fmt(&mut body, events).is_err() {
        cut = Some(Cut::Output {
            total: markdown.len(),
        });
    }
    let title = title
        .text()
        .unwrap_or_else(|| title_fallback.trim().to_string());
    let mut page = String::with_capacity(body.out.len() + STYLE.len() + 1024);
    page.push_str("<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n");
    page.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    page.push_str("<title>");
    page.push_str(&escape_html(&title));
    page.push_str("</title>\n<style>");
    page.push_str(STYLE);
    page.push_str("</style>\n</head>\n<body>\n<main>\n");
    if let Some(c) = cut {
        page.push_str(&note(c, max_output));
    }
    page.push_str(&body.out);
    drop(body);
    page.push_str("</main>\n</body>\n</html>\n");
    Rendered { html: page, cut }
}

/// What a reader is told about a document shown in part.
fn note(cut: Cut, max_output: usize) -> String {
    let what = match cut {
        Cut::Markup { shown, total } => format!(
            "Only the first {shown} of its {total} bytes are shown: the rest has more Markdown markup than the viewer renders in one document."
        ),
        Cut::Output { total } => format!(
            "It is shown up to {max_output} bytes of HTML, the viewer's limit; the document has {total} bytes of Markdown."
        ),
    };
    format!(
        "\n<aside role=\"note\" style=\"border:2px solid #d4a72c;padding:.5em 1em;margin:1em 0\"><strong>This document is shown only in part.</strong> {} The raw file is complete: download it from the review page.</aside>\n",
        escape_html(&what)
    )
}

/// How many bytes of `markdown`, from its start, stay within `MAX_MARKUP`: all of it, or up to the
/// end of a line (a blank one when there is one in the second half of the allowance; a character
/// boundary in the middle of a single enormous line).
fn renderable_prefix(markdown: &str) -> usize {
    let mut cost = 0usize;
    let mut fence: Option<(u8, usize)> = None;
    let mut last_blank = None;
    let mut offset = 0usize;
    for line in markdown.split_inclusive('\n') {
        let line_cost = markup_cost(line, &mut fence);
        if cost + line_cost > MAX_MARKUP {
            if let Some(blank) = last_blank.filter(|_| cost > MAX_MARKUP / 2) {
                return blank;
            }
            if offset > 0 {
                return offset;
            }
            return within_one_line(line, MAX_MARKUP);
        }
        cost += line_cost;
        offset += line.len();
        if line.trim().is_empty() {
            last_blank = Some(offset);
        }
    }
    markdown.len()
}

/// A first line too costly on its own: as much of it as costs at most `budget`, cut at a character
/// boundary (found in proportion to its cost, then shortened until it fits).
fn within_one_line(line: &str, budget: usize) -> usize {
    let mut end = line.len();
    loop {
        let cost = markup_cost(&line[..end], &mut None);
        if cost <= budget || end == 0 {
            return end;
        }
        let scaled = (end as u128 * budget as u128 / cost as u128) as usize;
        end = scaled.min(end - 1);
        while !line.is_char_boundary(end) {
            end -= 1;
        }
    }
}

/// What one character costs inside a line: 2 for what can open or close an inline element (a node
/// for it, and one for the text after it), else nothing.
fn inline_cost(b: u8) -> usize {
    match b {
        b'[' | b']' | b'!' | b'*' | b'_' | b'`' | b'\\' | b'<' | b'>' | b'&' | b'|' | b'~' => 2,
        _ => 0,
    }
}

/// The estimated parser nodes of one line: 2 for the line (its text and its break), 4 for each
/// quote or list marker that opens it (they nest: `> > 1. - x`), 2 for a heading, plus
/// `inline_cost` for the rest; inside fenced code a line is just text, whatever it holds. `fence`
/// carries the open fence across lines. Measured against pulldown-cmark on 30 pathological
/// documents, the estimate is at or above the nodes actually made.
fn markup_cost(line: &str, fence: &mut Option<(u8, usize)>) -> usize {
    let trimmed = line.trim_start_matches(' ');
    let indent = line.len() - trimmed.len();
    let marker = trimmed.as_bytes().first().copied();
    let run = |c: u8| trimmed.bytes().take_while(|b| *b == c).count();
    if indent <= 3 {
        if let Some(m @ (b'`' | b'~')) = marker {
            let length = run(m);
            if length >= 3 {
                match *fence {
                    Some((open, open_len)) if open == m && length >= open_len => {
                        *fence = None;
                        return 2;
                    }
                    None => {
                        *fence = Some((m, length));
                        return 2 + trimmed.bytes().map(inline_cost).sum::<usize>();
                    }
                    Some(_) => {}
                }
            }
        }
    }
    if fence.is_some() {
        return 2;
    }
    let mut cost = 2;
    let mut rest = trimmed.trim_start_matches(['\t', ' ']).as_bytes();
    loop {
        let after = match rest {
            [b'>', r @ ..] => r,
            [b'-' | b'+' | b'*', b' ' | b'\t', r @ ..] => r,
            [b'#', ..] => {
                cost += 2;
                break;
            }
            [d, ..] if d.is_ascii_digit() => {
                let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
                match rest.get(digits..digits + 2) {
                    Some([b'.' | b')', b' ' | b'\t']) => &rest[digits + 2..],
                    _ => break,
                }
            }
            _ => break,
        };
        cost += 4;
        let blanks = after
            .iter()
            .take_while(|b| matches!(b, b' ' | b'\t'))
            .count();
        rest = &after[blanks..];
    }
    cost + rest.iter().copied().map(inline_cost).sum::<usize>()
}

/// Parser events with elements nested deeper than `MAX_NESTING` left out (their content stays).
struct Flattened<'a, I: Iterator<Item = Event<'a>>> {
    events: I,
    /// For each open element: whether its tags are written.
    open: Vec<bool>,
}

impl<'a, I: Iterator<Item = Event<'a>>> Flattened<'a, I> {
    fn new(events: I) -> Self {
        Flattened {
            events,
            open: Vec::new(),
        }
    }
}

impl<'a, I: Iterator<Item = Event<'a>>> Iterator for Flattened<'a, I> {
    type Item = Event<'a>;

    fn next(&mut self) -> Option<Event<'a>> {
        loop {
            let event = self.events.next()?;
            match &event {
                Event::Start(_) => {
                    let written = self.open.len() < MAX_NESTING;
                    self.open.push(written);
                    if written {
                        return Some(event);
                    }
                }
                Event::End(_) => {
                    if self.open.pop().unwrap_or(true) {
                        return Some(event);
                    }
                }
                _ => return Some(event),
            }
        }
    }
}

/// Headings given the `id` their text makes (as code hosts do: lower case, letters, digits, `-` and
/// `_` kept, spaces as `-`, a repeat numbered `-1`, `-2`...), so that a document's own links to its
/// sections (`[see below](#alternatives-considered)`) lead there.
struct HeadingIds<'a, I: Iterator<Item = Event<'a>>> {
    events: I,
    /// A heading's events held until its end, when its text is known; then given out in order.
    held: std::collections::VecDeque<Event<'a>>,
    /// Every id given.
    taken: std::collections::HashSet<String>,
    /// The number to try next for a heading text's slug.
    next: std::collections::HashMap<String, usize>,
}

impl<'a, I: Iterator<Item = Event<'a>>> HeadingIds<'a, I> {
    fn new(events: I) -> Self {
        HeadingIds {
            events,
            held: std::collections::VecDeque::new(),
            taken: std::collections::HashSet::new(),
            next: std::collections::HashMap::new(),
        }
    }

    /// The id for a heading's text, not given before.
    fn id_for(&mut self, text: &str) -> String {
        let mut slug = String::new();
        for c in text.trim().chars() {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                slug.extend(c.to_lowercase());
            } else if c.is_whitespace() {
                slug.push('-');
            }
        }
        // The first number not taken: "a-1", "a", "a" give a-1, a, a-2.
        let mut n = self.next.get(&slug).copied().unwrap_or(0);
        let id = loop {
            let id = if n == 0 {
                slug.clone()
            } else {
                format!("{slug}-{n}")
            };
            n += 1;
            if self.taken.insert(id.clone()) {
                break id;
            }
        };
        self.next.insert(slug, n);
        id
    }
}

impl<'a, I: Iterator<Item = Event<'a>>> Iterator for HeadingIds<'a, I> {
    type Item = Event<'a>;

    fn next(&mut self) -> Option<Event<'a>> {
        if let Some(event) = self.held.pop_front() {
            return Some(event);
        }
        let event = footnote_apart(self.events.next()?);
        let Event::Start(Tag::Heading {
            level,
            id: None,
            classes,
            attrs,
        }) = event
        else {
            return Some(event);
        };
        let mut text = String::new();
        let mut inner = Vec::new();
        for event in self.events.by_ref() {
            let end = matches!(event, Event::End(TagEnd::Heading(_)));
            match &event {
                Event::Text(t) | Event::Code(t) => text.push_str(t),
                Event::SoftBreak | Event::HardBreak => text.push(' '),
                _ => {}
            }
            inner.push(footnote_apart(event));
            if end {
                break;
            }
        }
        let id = self.id_for(&text);
        self.held.extend(inner);
        Some(Event::Start(Tag::Heading {
            level,
            id: (!id.is_empty()).then(|| id.into()),
            classes,
            attrs,
        }))
    }
}

/// A footnote's label as its id gets `fn-` before it, so that footnote `[^note]` and a heading
/// "Note" do not both have the id `note` (its link led to the heading).
fn footnote_apart(event: Event<'_>) -> Event<'_> {
    match event {
        Event::FootnoteReference(label) => Event::FootnoteReference(format!("fn-{label}").into()),
        Event::Start(Tag::FootnoteDefinition(label)) => {
            Event::Start(Tag::FootnoteDefinition(format!("fn-{label}").into()))
        }
        other => other,
    }
}

/// A `fmt::Write` into a string that fails once `room` bytes are used up.
struct Capped {
    out: String,
    room: usize,
}

impl fmt::Write for Capped {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if s.len() > self.room {
            return Err(fmt::Error);
        }
        self.room -= s.len();
        self.out.push_str(s);
        Ok(())
    }
}

/// The plain text of the first heading, gathered from the events as they are rendered.
#[derive(Default)]
struct Heading {
    inside: bool,
    done: bool,
    text: String,
}

impl Heading {
    fn see(&mut self, event: &Event<'_>) {
        if self.done {
            return;
        }
        match event {
            Event::Start(Tag::Heading { .. }) => self.inside = true,
            Event::End(TagEnd::Heading(_)) if self.inside => self.done = true,
            Event::Text(t) | Event::Code(t) if self.inside => self.text.push_str(t),
            Event::SoftBreak | Event::HardBreak if self.inside => self.text.push(' '),
            _ => {}
        }
    }

    /// The heading with its whitespace collapsed; `None` when there is none or it has no text.
    fn text(&self) -> Option<String> {
        let collapsed = self.text.split_whitespace().collect::<Vec<_>>().join(" ");
        (!collapsed.is_empty()).then_some(collapsed)
    }
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
    use super::*;

    fn page(markdown: &str, title: &str) -> String {
        let rendered = render_markdown(markdown, title);
        assert_eq!(rendered.cut, None, "rendered in full");
        rendered.html
    }

    #[test]
    fn the_document_is_complete_and_titled_by_the_first_heading() {
        let page = page("Intro text\n\n## The *real* `title`\n\n# Later", "notes.md");
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.contains("<meta charset=\"utf-8\">"));
        assert!(page.contains("<title>The real title</title>"));
        assert!(page.contains("<style>"));
        assert!(page.contains("<p>Intro text</p>"));
        assert!(page.trim_end().ends_with("</html>"));
    }

    #[test]
    fn headings_get_ids_from_their_text_so_links_to_sections_work() {
        let html = page(
            "# Design: *Sync* v2\n\nSee [the alternatives](#alternatives-considered).\n\n\
             ## Alternatives considered\n\n## Alternatives considered\n\n### `Retry` & back-off\n\n\
             ## Ünïcode Überschrift\n\n##\n",
            "t",
        );
        assert!(
            html.contains("<h1 id=\"design-sync-v2\">Design: <em>Sync</em> v2</h1>"),
            "{html}"
        );
        assert!(
            html.contains("<a href=\"#alternatives-considered\">"),
            "{html}"
        );
        assert!(html.contains("<h2 id=\"alternatives-considered\">Alternatives considered</h2>"));
        assert!(html.contains("<h2 id=\"alternatives-considered-1\">Alternatives considered</h2>"));
        assert!(
            html.contains("<h3 id=\"retry--back-off\"><code>Retry</code> &amp; back-off</h3>"),
            "{html}"
        );
        assert!(html.contains("<h2 id=\"ünïcode-überschrift\">"), "{html}");
        assert!(
            html.contains("<h2></h2>"),
            "an empty heading gets no id: {html}"
        );
    }

    #[test]
    fn heading_ids_never_repeat_and_footnotes_have_their_own() {
        let html = page(
            "# a-1\n\n# a\n\n# a\n\n## Note\n\nSee[^note].\n\n[^note]: The note.\n",
            "t",
        );
        for id in ["a-1", "a", "a-2", "note"] {
            assert_eq!(
                html.matches(&format!("id=\"{id}\"")).count(),
                1,
                "{id}: {html}"
            );
        }
        assert!(html.contains("href=\"#fn-note\""), "{html}");
        assert!(html.contains("id=\"fn-note\""), "{html}");
    }

    #[test]
    fn a_byte_order_mark_does_not_hide_the_first_heading() {
        let html = page("\u{feff}# Release notes\n\nText.", "notes.md");
        assert!(
            html.contains("<h1 id=\"release-notes\">Release notes</h1>"),
            "{html}"
        );
        assert!(html.contains("<title>Release notes</title>"), "{html}");
    }

    #[test]
    fn without_a_heading_the_title_is_the_escaped_fallback() {
        let page = page("just text", "a<b>.md");
        assert!(page.contains("<title>a&lt;b&gt;.md</title>"));
    }

    #[test]
    fn tables_and_task_lists_render_and_raw_html_passes_through() {
        let md = "| a | b |\n|---|---|\n| 1 | 2 |\n\n- [x] done\n\n<div class=\"x\">raw</div>\n";
        let page = page(md, "t");
        assert!(page.contains("<table>"));
        assert!(page.contains("type=\"checkbox\""));
        assert!(page.contains("<div class=\"x\">raw</div>"));
    }

    #[test]
    fn front_matter_is_not_rendered_as_text() {
        let page = page("---\ntitle: x\n---\n\n# Head\n", "t");
        assert!(!page.contains("title: x"));
        assert!(page.contains("<title>Head</title>"));
    }

    #[test]
    fn a_document_with_too_much_markup_is_rendered_in_part_and_says_so() {
        let brackets = "[".repeat(5 * 1024 * 1024);
        let rendered = render_markdown(&brackets, "t");
        let Some(Cut::Markup { shown, total }) = rendered.cut else {
            panic!("cut short: {:?}", rendered.cut);
        };
        assert_eq!(total, brackets.len());
        // Each `[` costs 2: close to half the allowance of them, never more.
        assert!(
            (MAX_MARKUP / 2 - 10..=MAX_MARKUP / 2).contains(&shown),
            "{shown}"
        );
        assert!(rendered.html.contains("shown only in part"));
        assert!(rendered
            .html
            .contains(&format!("first {shown} of its {total}")));
        assert!(
            rendered.html.len() < MAX_MARKUP + 4096,
            "{}",
            rendered.html.len()
        );

        // Nested list markers on one line count as the lists they open.
        let lists = "1. ".repeat(1024 * 1024);
        let rendered = render_markdown(&lists, "t");
        assert!(matches!(rendered.cut, Some(Cut::Markup { shown, .. }) if shown < MAX_MARKUP));

        // Cut at a blank line when there is one late enough.
        let para = "A [link](https://example.com) and *emphasis*, `code` & more.\n\n";
        let many = para.repeat(MAX_MARKUP / 10);
        let rendered = render_markdown(&many, "t");
        let Some(Cut::Markup { shown, .. }) = rendered.cut else {
            panic!("cut short: {:?}", rendered.cut);
        };
        assert!(many[..shown].ends_with("\n\n"), "cut after a blank line");
        assert!(rendered.html.trim_end().ends_with("</html>"));
    }

    #[test]
    fn fenced_code_costs_a_mark_per_line_whatever_it_holds() {
        let code = format!(
            "```rust\n{}```\n",
            "fn f() -> [u8; 4] { [0; 4] } // <&>\n".repeat(100_000)
        );
        let rendered = render_markdown(&code, "t");
        assert_eq!(rendered.cut, None, "3.6 MB of code is rendered whole");
        assert!(rendered.html.contains("&lt;&amp;&gt;"));
    }

    #[test]
    fn deep_nesting_is_flattened_and_output_is_bounded() {
        let quotes = format!("{} deep", ">".repeat(MAX_MARKUP / 4 - 10));
        let rendered = render_markdown(&quotes, "t");
        assert_eq!(rendered.cut, None);
        assert_eq!(
            rendered.html.matches("<blockquote>").count(),
            MAX_NESTING,
            "only the outer quotes are written"
        );
        assert!(rendered.html.contains("deep"));
    }

    #[test]
    fn the_output_stops_at_its_limit_and_says_so() {
        let text = "Plain words & <symbols> in a long paragraph.\n\n".repeat(1000);
        let rendered = render(&text, "t", 10_000);
        assert_eq!(rendered.cut, Some(Cut::Output { total: text.len() }));
        assert!(rendered.html.contains("shown up to 10000 bytes of HTML"));
        let body = rendered.html.split("</aside>").nth(1).unwrap_or_default();
        assert!(body.len() <= 10_000 + 64, "{}", body.len());
    }
}
