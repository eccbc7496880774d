//! Finding a passage that someone quotes in plain text, so they never build a selector by hand
//! (an agent says "the sentence `Revenue grew 4%`", the server works out where it is).
//!
//! The text searched is the one the review page's bridge measures selectors against
//! (`docs/review-bridge.md`): the data of every Text node under `<body>` (else the document
//! element), in document order, skipping `script`, `style`, `noscript` and `template`, nothing
//! added or normalised. For HTML it comes from html5ever's tree builder, the same algorithm as a
//! browser's, so entities, implied elements and misnested tags come out as in the page (but
//! text a page's own scripts add later is not there). Positions are Unicode code points.
//!
//! A quote is found exactly, else with any run of whitespace matching any other; one found
//! several times needs a `near` hint (words that stand close to the one meant: in the same sentence
//! first, then the fewest characters away). The answer is a
//! W3C `TextQuoteSelector` whose prefix and suffix make it unique in the text, and the
//! `TextPositionSelector` of the same passage.

use scraper::{Html, Node};

use crate::target::{CONTEXT_MAX, EXACT_MAX};

/// Characters of context put before and after a quote (as the review page's bridge does).
const CONTEXT: usize = 32;
/// How far from a candidate a `near` hint may stand, in characters either side.
const NEAR_WINDOW: usize = 400;
/// Most places of a quote that `near` chooses among; a quote found more often is too short.
const NEAR_CANDIDATES_MAX: usize = 10_000;

/// Elements whose text is not part of the document's text.
const SKIPPED: [&str; 4] = ["script", "style", "noscript", "template"];

/// A passage found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passage {
    /// Code points from the start of the text.
    pub start: usize,
    pub end: usize,
    /// The passage as it stands in the text (its whitespace may differ from the quote's).
    pub exact: String,
    pub prefix: String,
    pub suffix: String,
}

/// Why a quote could not be placed; each says what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotPlaced {
    #[error("quote is empty: give the passage's text")]
    Empty,
    #[error("quote is {length} characters long; the limit is {EXACT_MAX} characters: quote a shorter passage")]
    TooLong { length: usize },
    #[error("the quote is not in the text of {file}: copy it exactly as it reads in the document (its visible text, not its markup); if {file} is an HTML page whose own scripts write that text, add \"scripted\": true and it is kept as given, for the review page to find once the page has run")]
    Missing { file: String },
    #[error("the quote is in the text of a <{element}> in {file}, which the review page shows where no passage can be highlighted (a form field, the title, SVG or MathML, a frame's fallback): quote text the page shows elsewhere, or leave out quote to comment on the whole file")]
    Unmarkable { file: String, element: String },
    #[error("the quote appears {count} times in {file}: give `near` with a few words that stand close to the one you mean, or quote a longer passage")]
    Ambiguous { file: String, count: usize },
    #[error("the quote appears {count} times in {file}, and `near` does not pick out one of them ({matching} stand equally close to it, or none within 400 characters): quote a longer passage or give other words as `near`")]
    NearUnclear {
        file: String,
        count: usize,
        matching: usize,
    },
    #[error("the quote appears {count} times in {file}, and `near` is not in its text: give words that stand close to the one you mean, as they read in the document")]
    NearMissing { file: String, count: usize },
    #[error(
        "near is {length} characters long; the limit is {EXACT_MAX} characters: give a few words"
    )]
    NearTooLong { length: usize },
    #[error("the quote appears {count} times in {file}, more than {NEAR_CANDIDATES_MAX} for `near` to choose from: quote a longer passage")]
    TooMany { file: String, count: usize },
}

/// Elements whose text a page shows in no place the review page can mark: form fields, the
/// document's title, the fallback text of frames and embeds a browser does not show.
const UNMARKABLE: [&str; 7] = [
    "textarea", "select", "option", "optgroup", "title", "iframe", "noembed",
];

/// The text of a document as the bridge measures it, and the parts of it that the review page
/// cannot highlight (text in form fields, SVG or MathML, a frame's fallback): a passage there is
/// found but could never be drawn, so it is refused rather than stored unseen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DocumentText {
    pub text: String,
    /// Byte ranges of `text` inside such an element, in order, each with the element's name.
    unmarkable: Vec<(usize, usize, String)>,
}

impl DocumentText {
    /// The element holding the whole of `start..end`, if that is text the page cannot mark.
    fn unmarkable_at(&self, start: usize, end: usize) -> Option<&str> {
        self.unmarkable
            .iter()
            .find(|(from, to, _)| *from <= start && end <= *to)
            .map(|(_, _, element)| element.as_str())
    }
}

/// The text of an HTML document, as the bridge measures it.
pub fn text_of_html(html: &str) -> DocumentText {
    let doc = Html::parse_document(html);
    let root = doc.tree.root();
    let html_element = root
        .children()
        .find(|n| matches!(n.value(), Node::Element(e) if e.name() == "html"));
    let body = html_element.and_then(|h| {
        h.children()
            .find(|n| matches!(n.value(), Node::Element(e) if e.name() == "body"))
    });
    let Some(start) = body.or(html_element) else {
        return DocumentText::default();
    };
    let mut out = DocumentText::default();
    // Each node with the unmarkable element it is inside, if any.
    let mut stack: Vec<_> = start.children().map(|n| (n, None::<String>)).collect();
    stack.reverse();
    while let Some((node, inside)) = stack.pop() {
        match node.value() {
            Node::Text(t) => {
                let from = out.text.len();
                out.text.push_str(t);
                if let Some(element) = inside {
                    match out.unmarkable.last_mut() {
                        Some(last) if last.1 == from && last.2 == element => {
                            last.1 = out.text.len()
                        }
                        _ => out.unmarkable.push((from, out.text.len(), element)),
                    }
                }
            }
            Node::Element(e) if !SKIPPED.contains(&e.name()) => {
                let inside = inside.or_else(|| {
                    let foreign = &*e.name.ns != "http://www.w3.org/1999/xhtml";
                    (foreign || UNMARKABLE.contains(&e.name())).then(|| e.name().to_string())
                });
                let mut children: Vec<_> = node.children().map(|n| (n, inside.clone())).collect();
                children.reverse();
                stack.extend(children);
            }
            _ => {}
        }
    }
    out
}

/// Finds `quote` in `doc` (the text of the file named `source`, for messages): where the page
/// can mark it, if it stands both there and in text it cannot.
pub fn locate(
    doc: &DocumentText,
    quote: &str,
    near: Option<&str>,
    source: &str,
) -> Result<Passage, NotPlaced> {
    let text = doc.text.as_str();
    let quote = quote.trim();
    if quote.is_empty() {
        return Err(NotPlaced::Empty);
    }
    let length = quote.chars().count();
    if length > EXACT_MAX {
        return Err(NotPlaced::TooLong { length });
    }
    let mut found = exact_matches(text, quote);
    if found.is_empty() {
        found = whitespace_insensitive_matches(text, quote, false);
    }
    if found.is_empty() {
        found = loose_matches(text, quote);
    }
    if let Some(element) = found
        .iter()
        .map(|(start, end)| doc.unmarkable_at(*start, *end))
        .collect::<Option<Vec<_>>>()
        .and_then(|elements| elements.first().map(|e| e.to_string()))
    {
        return Err(NotPlaced::Unmarkable {
            file: source.to_string(),
            element,
        });
    }
    found.retain(|(start, end)| doc.unmarkable_at(*start, *end).is_none());
    let (start, end) = match found.as_slice() {
        [] => {
            return Err(NotPlaced::Missing {
                file: source.to_string(),
            })
        }
        [one] => *one,
        many => pick_near(text, many, near, source)?,
    };
    Ok(passage(text, start, end))
}

/// Byte ranges of every occurrence of `quote`, overlapping ones included.
fn exact_matches(text: &str, quote: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = text[from..].find(quote) {
        let start = from + i;
        out.push((start, start + quote.len()));
        // Next search from the following character, so "aa" finds both places in "aaa".
        from = start + text[start..].chars().next().map_or(1, char::len_utf8);
    }
    out
}

/// Byte ranges where `quote` occurs if every run of whitespace matches any other run (and, when
/// `loose`, invisible characters count for nothing).
fn whitespace_insensitive_matches(text: &str, quote: &str, loose: bool) -> Vec<(usize, usize)> {
    let (collapsed, origins) = collapse_whitespace(text, loose);
    let (wanted, _) = collapse_whitespace(quote, loose);
    if wanted.is_empty() {
        return Vec::new();
    }
    exact_matches(&collapsed, &wanted)
        .into_iter()
        .map(|(s, e)| {
            let start = origins[s];
            // The end of the last character matched, in the original text.
            let last = origins[e - 1];
            let width = text[last..].chars().next().map_or(1, char::len_utf8);
            (start, last + width)
        })
        .collect()
}

/// Where `quote` occurs as a reader sees it: accents composed or not (the quote tried in NFC and
/// in NFD, as a page may be in either), and whitespace and the characters that show nothing (soft
/// hyphens, zero-width spaces, word joiners, byte-order marks) ignored on both sides.
fn loose_matches(text: &str, quote: &str) -> Vec<(usize, usize)> {
    use unicode_normalization::UnicodeNormalization;
    let composed: String = quote.nfc().collect();
    let decomposed: String = quote.nfd().collect();
    for variant in [quote.to_string(), composed, decomposed] {
        let found = whitespace_insensitive_matches(text, &variant, true);
        if !found.is_empty() {
            return found;
        }
    }
    Vec::new()
}

/// Characters that show nothing and that writers put inside words (hyphenation points, break
/// opportunities): a quote copied from the rendered page lacks them.
fn shows_nothing(c: char) -> bool {
    matches!(c, '\u{ad}' | '\u{200b}' | '\u{2060}' | '\u{feff}')
}

/// `text` with every run of whitespace as one space (and, when `loose`, without whitespace at all
/// nor the characters that show nothing: blocks such as table cells and list items join without
/// a separator in the text, where a quote copied from the page has a tab or a line break), and
/// for each byte of it the byte of `text` it came from.
fn collapse_whitespace(text: &str, loose: bool) -> (String, Vec<usize>) {
    let mut out = String::with_capacity(text.len());
    let mut origins = Vec::with_capacity(text.len());
    let mut in_space = false;
    for (i, c) in text.char_indices() {
        if loose && (shows_nothing(c) || c.is_whitespace()) {
            continue;
        }
        if c.is_whitespace() {
            if !in_space {
                out.push(' ');
                origins.push(i);
            }
            in_space = true;
        } else {
            in_space = false;
            let before = out.len();
            out.push(c);
            origins.extend(std::iter::repeat_n(i, out.len() - before));
        }
    }
    (out, origins)
}

/// The candidate that `near` stands closest to (within `NEAR_WINDOW` characters): one in the same
/// sentence beats one across a sentence end ("The build takes 4 minutes. The deploy takes 4
/// minutes", near "deploy", means the second), then the fewest characters between; a tie is
/// unclear.
fn pick_near(
    text: &str,
    candidates: &[(usize, usize)],
    near: Option<&str>,
    source: &str,
) -> Result<(usize, usize), NotPlaced> {
    let near = near.map(str::trim).filter(|n| !n.is_empty());
    let Some(near) = near else {
        return Err(NotPlaced::Ambiguous {
            file: source.to_string(),
            count: candidates.len(),
        });
    };
    if near.chars().count() > EXACT_MAX {
        return Err(NotPlaced::NearTooLong {
            length: near.chars().count(),
        });
    }
    if candidates.len() > NEAR_CANDIDATES_MAX {
        return Err(NotPlaced::TooMany {
            file: source.to_string(),
            count: candidates.len(),
        });
    }
    let mut hints = exact_matches(text, near);
    if hints.is_empty() {
        hints = whitespace_insensitive_matches(text, near, false);
    }
    if hints.is_empty() {
        return Err(NotPlaced::NearMissing {
            file: source.to_string(),
            count: candidates.len(),
        });
    }
    hints.sort_unstable();
    let longest = hints.iter().map(|(s, e)| e - s).max().unwrap_or(0);
    // How far a candidate is from the closest place `near` stands: whether a sentence ends
    // between them, then the characters between (0 when they overlap). Only the nearest hint on
    // each side can be closest (a farther one has the nearer one's span between, and more), so
    // each candidate looks at a few hints, and never counts past the window: placing a quote
    // costs about the document's length, however often the quote and `near` repeat.
    let distance = |&(s, e): &(usize, usize)| -> Option<(bool, usize)> {
        let measure = |between: &str| {
            // More bytes than 4 per character of the window: more characters than the window.
            (between.len() <= NEAR_WINDOW * 4)
                .then(|| (ends_a_sentence(between), between.chars().count()))
                .filter(|(_, d)| *d <= NEAR_WINDOW)
        };
        let after = hints.partition_point(|&(hs, _)| hs < e);
        let right = hints.get(after).and_then(|&(hs, _)| measure(&text[e..hs]));
        // Of those starting before the candidate ends: one ending after it starts overlaps it;
        // else the one ending last is the closest on the left. Hints start in order, so each
        // earlier one ends at most `longest` after its start: the walk stops when none can.
        let mut left_end: Option<usize> = None;
        for &(hs, he) in hints[..after].iter().rev() {
            if he > s {
                return Some((false, 0));
            }
            left_end = left_end.max(Some(he));
            let reach = hs + longest;
            if reach <= s && (left_end >= Some(reach) || reach + NEAR_WINDOW * 4 < s) {
                break;
            }
        }
        let left = left_end.and_then(|le| measure(&text[le..s]));
        match (left, right) {
            (Some(l), Some(r)) => Some(l.min(r)),
            (one, other) => one.or(other),
        }
    };
    let mut ranked: Vec<((usize, usize), (bool, usize))> = candidates
        .iter()
        .filter_map(|c| distance(c).map(|d| (*c, d)))
        .collect();
    ranked.sort_by_key(|(_, d)| *d);
    match ranked.as_slice() {
        [(only, _)] => Ok(*only),
        [(best, d0), (_, d1), ..] if d0 < d1 => Ok(*best),
        _ => Err(NotPlaced::NearUnclear {
            file: source.to_string(),
            count: candidates.len(),
            matching: ranked.len(),
        }),
    }
}

/// Whether `between` holds the end of a sentence: a line break, or `.`, `!` or `?` before
/// whitespace (so "4.5" does not count, "Done. Next" does).
fn ends_a_sentence(between: &str) -> bool {
    let mut chars = between.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\n' {
            return true;
        }
        if matches!(c, '.' | '!' | '?') && chars.peek().is_some_and(|n| n.is_whitespace()) {
            return true;
        }
        // Full stops of scripts written without spaces end a sentence by themselves: Chinese
        // and Japanese 。！？, their full-width forms, Devanagari's danda, Arabic's question mark.
        if matches!(
            c,
            '\u{3002}'
                | '\u{ff01}'
                | '\u{ff1f}'
                | '\u{ff0e}'
                | '\u{0964}'
                | '\u{0965}'
                | '\u{061f}'
        ) {
            return true;
        }
    }
    false
}

/// The passage at byte range `start..end`, with context that makes its quote selector unique.
fn passage(text: &str, start: usize, end: usize) -> Passage {
    let exact = &text[start..end];
    let mut context = CONTEXT;
    loop {
        let prefix = &text[back_chars(text, start, context)..start];
        let suffix = &text[end..forward_chars(text, end, context)];
        let whole = format!("{prefix}{exact}{suffix}");
        let unique = exact_matches(text, &whole).len() <= 1;
        let exhausted = prefix.len() == start && end + suffix.len() == text.len();
        if unique || exhausted || context >= CONTEXT_MAX {
            return Passage {
                start: text[..start].chars().count(),
                end: text[..end].chars().count(),
                exact: exact.to_string(),
                prefix: prefix.to_string(),
                suffix: suffix.to_string(),
            };
        }
        context = (context * 2).min(CONTEXT_MAX);
    }
}

/// The byte index `n` characters before `at` (or 0).
fn back_chars(text: &str, at: usize, n: usize) -> usize {
    text[..at]
        .char_indices()
        .rev()
        .nth(n.saturating_sub(1))
        .map_or(0, |(i, _)| i)
        .min(at)
}

/// The byte index `n` characters after `at` (or the end).
fn forward_chars(text: &str, at: usize, n: usize) -> usize {
    text[at..]
        .char_indices()
        .nth(n)
        .map_or(text.len(), |(i, _)| at + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A text with nothing the page cannot mark.
    fn plain(text: &str) -> DocumentText {
        DocumentText {
            text: text.to_string(),
            unmarkable: Vec::new(),
        }
    }

    #[test]
    fn the_text_is_the_bodys_text_nodes_without_scripts_and_styles() {
        let html = "<!doctype html><html><head><title>T</title><style>p{}</style></head>\
            <body><h1>Q3 &amp; Q4</h1>\n<p>Revenue <b>grew</b> 4%</p><script>var x = 1;</script>\
            <noscript>no js</noscript><template><p>later</p></template><p>End</p></body></html>";
        assert_eq!(text_of_html(html).text, "Q3 & Q4\nRevenue grew 4%End");
    }

    #[test]
    fn a_document_without_body_tags_is_read_as_a_browser_would() {
        assert_eq!(text_of_html("<p>One<p>Two").text, "OneTwo");
        assert_eq!(text_of_html("plain words").text, "plain words");
        assert_eq!(text_of_html("").text, "");
    }

    #[test]
    fn a_unique_quote_gets_its_context_and_code_point_positions() {
        let text = "😀 Intro. Revenue grew 4% in Q3. Costs fell.";
        let p = locate(&plain(text), " Revenue grew 4% ", None, "index.html").expect("found");
        assert_eq!(p.exact, "Revenue grew 4%");
        assert_eq!(p.start, 9, "code points, the emoji counts once");
        assert_eq!(p.end, 24);
        assert_eq!(p.prefix, "😀 Intro. ");
        assert_eq!(p.suffix, " in Q3. Costs fell.");
    }

    #[test]
    fn whitespace_in_the_document_need_not_match_the_quotes() {
        let text = "The launch is\n      planned for March.";
        let p = locate(&plain(text), "launch is planned", None, "a.html").expect("found");
        assert_eq!(p.exact, "launch is\n      planned");
        assert_eq!(
            &text
                .chars()
                .skip(p.start)
                .take(p.end - p.start)
                .collect::<String>(),
            &p.exact
        );
    }

    #[test]
    fn a_repeated_quote_needs_near_and_gets_context_that_makes_it_unique() {
        let text = "Summary: total 4%. Details follow. Europe: total 4%. Asia: total 4%.";
        let err = locate(&plain(text), "total 4%", None, "a.html").unwrap_err();
        assert_eq!(
            err,
            NotPlaced::Ambiguous {
                file: "a.html".into(),
                count: 3
            }
        );
        assert!(err.to_string().contains("3 times"));
        let p = locate(&plain(text), "total 4%", Some("Europe"), "a.html").expect("near picks one");
        assert_eq!(
            text.chars().skip(p.start).take(8).collect::<String>(),
            "total 4%"
        );
        assert!(p.prefix.ends_with("Europe: "), "{p:?}");
        let whole = format!("{}{}{}", p.prefix, p.exact, p.suffix);
        assert_eq!(text.matches(&whole).count(), 1);
        let unclear = locate(&plain(text), "total 4%", Some("total"), "a.html").unwrap_err();
        assert!(matches!(unclear, NotPlaced::NearUnclear { count: 3, .. }));
    }

    #[test]
    fn a_quote_is_found_however_its_accents_are_encoded_and_past_invisible_characters() {
        let nfd = "Le cafe\u{301} re\u{301}sume\u{301} du jour.";
        let p = locate(&plain(nfd), "caf\u{e9} r\u{e9}sum\u{e9}", None, "a.html").expect("found");
        assert_eq!(
            p.exact, "cafe\u{301} re\u{301}sume\u{301}",
            "as the page has it"
        );
        assert_eq!(p.start, 3);
        let nfc = "Le caf\u{e9} du jour.";
        let p = locate(&plain(nfc), "cafe\u{301}", None, "a.html").expect("found");
        assert_eq!(p.exact, "caf\u{e9}");
        let hyphenated = "The hy\u{ad}phen\u{ad}ation works, zero\u{200b}width\u{200b}join too.";
        let p = locate(&plain(hyphenated), "hyphenation works", None, "a.html").expect("found");
        assert_eq!(p.exact, "hy\u{ad}phen\u{ad}ation works");
        let p = locate(&plain(hyphenated), "zerowidthjoin", None, "a.html").expect("found");
        assert_eq!(p.exact, "zero\u{200b}width\u{200b}join");
        // Table cells and list items join without a separator in the text; quoted as they read,
        // with a space, a tab or a line break between them, they are found.
        let cells = "NameAdaRoleAdmin";
        let p = locate(&plain(cells), "Ada\tRole", None, "a.html").expect("found");
        assert_eq!(p.exact, "AdaRole");
        // Only invisible characters quoted, and not in the text: nothing to find.
        assert!(matches!(
            locate(&plain("plain text"), "\u{ad}", None, "a.html"),
            Err(NotPlaced::Missing { .. })
        ));
    }

    #[test]
    fn near_that_is_not_in_the_text_is_named_and_repeats_cost_about_the_length_of_the_text() {
        let text = plain("Total 4%. Europe total 4%. Asia total 4%.");
        assert_eq!(
            locate(&text, "total 4%", Some("zebra"), "a.html"),
            Err(NotPlaced::NearMissing {
                file: "a.html".into(),
                count: 2
            })
        );
        let long = "w ".repeat(1_500);
        assert!(matches!(
            locate(&text, "total 4%", Some(&long), "a.html"),
            Err(NotPlaced::NearTooLong { length: 2_999 })
        ));
        // 9,000 places of a quote, each with `near` around it: compared pair by pair and counted
        // to the end, this took hours; each place now looks at its nearest hints only.
        let repeated = plain(&"ab ".repeat(9_000));
        assert!(matches!(
            locate(&repeated, "ab", Some("ab ab"), "a.html"),
            Err(NotPlaced::NearUnclear { count: 9_000, .. })
        ));
        let mut marked = "ab ".repeat(9_000);
        marked.push_str("ab zebra");
        let found =
            locate(&plain(&marked), "ab", Some("zebra"), "a.html").expect("the one by zebra");
        assert_eq!(found.start, 27_000);
        // Beyond 10,000 places, the quote is too short for `near` to help.
        assert!(matches!(
            locate(&plain(&"ab ".repeat(10_001)), "ab", Some("zebra"), "a.html"),
            Err(NotPlaced::TooMany { count: 10_001, .. })
        ));
    }

    #[test]
    fn near_prefers_the_candidate_in_its_own_sentence() {
        let text = "The build takes 4 minutes. The deploy takes 4 minutes too.";
        let p =
            locate(&plain(text), "4 minutes", Some("deploy"), "a.md").expect("one in its sentence");
        assert_eq!(p.start, 44, "{p:?}");
        let p =
            locate(&plain(text), "4 minutes", Some("build"), "a.md").expect("one in its sentence");
        assert_eq!(p.start, 16, "{p:?}");
        // On separate lines, the closest still wins; equally close is unclear.
        let lines = "Build: 4 minutes\nDeploy: 4 minutes";
        let p = locate(&plain(lines), "4 minutes", Some("Deploy"), "a.md").expect("closest");
        assert_eq!(p.start, 25, "{p:?}");
        let tie = "4 minutes x 4 minutes";
        assert!(matches!(
            locate(&plain(tie), "4 minutes", Some("x"), "a.md"),
            Err(NotPlaced::NearUnclear { count: 2, .. })
        ));
        assert!(!ends_a_sentence(" grew 4.5 points "));
        assert!(ends_a_sentence("Done. Next"));
        // Japanese: 。 ends a sentence without a space after it.
        let ja = "ビルドは4分かかります。デプロイも4分かかります。";
        let p = locate(&plain(ja), "4分", Some("デプロイ"), "a.md").expect("one in its sentence");
        assert_eq!(
            p.start,
            ja.chars().take_while(|c| *c != 'デ').count() + 5,
            "{p:?}"
        );
    }

    #[test]
    fn missing_empty_and_overlong_quotes_are_refused_with_what_to_change() {
        let text = "Some text";
        assert!(matches!(
            locate(&plain(text), "other", None, "a.html"),
            Err(NotPlaced::Missing { .. })
        ));
        assert_eq!(
            locate(&plain(text), "  ", None, "a.html"),
            Err(NotPlaced::Empty)
        );
        let long = "x".repeat(EXACT_MAX + 1);
        assert_eq!(
            locate(&plain(&long), &long, None, "a.html"),
            Err(NotPlaced::TooLong {
                length: EXACT_MAX + 1
            })
        );
    }

    #[test]
    fn context_grows_until_the_selector_is_unique() {
        let block = "a".repeat(40);
        let text = format!("{block}X{block}-{block}X{block}+");
        let p = locate(&plain(&text), "X", Some("+"), "a.html").expect("the second X");
        let whole = format!("{}{}{}", p.prefix, p.exact, p.suffix);
        assert_eq!(
            text.matches(&whole).count(),
            1,
            "{} + {}",
            p.prefix.len(),
            p.suffix.len()
        );
    }

    #[test]
    fn a_passage_the_page_cannot_mark_is_refused_and_one_it_can_is_preferred() {
        let doc = text_of_html(
            "<body><p>Intro</p><textarea>Draft reply here</textarea>\
             <svg><text>Axis label</text></svg><p>Draft reply here, said twice</p>\
             <select><option>Choice one</option></select><iframe>Frames off</iframe></body>",
        );
        for (quote, element) in [
            ("Axis label", "svg"),
            ("Choice one", "select"),
            ("Frames off", "iframe"),
        ] {
            let refused = locate(&doc, quote, None, "a.html").expect_err(quote);
            assert_eq!(
                refused,
                NotPlaced::Unmarkable {
                    file: "a.html".into(),
                    element: element.into()
                }
            );
            assert!(refused.to_string().contains("whole file"), "{refused}");
        }
        // In a form field and in a paragraph: the paragraph's, and no need for `near`.
        let found = locate(&doc, "Draft reply here", None, "a.html").expect("the paragraph's");
        let paragraph = doc.text.find("Draft reply here,").expect("in the text");
        assert_eq!(found.start, doc.text[..paragraph].chars().count());
        // Text in the same paragraph as a field is marked as usual.
        assert!(locate(&doc, "Intro", None, "a.html").is_ok());
    }
}
