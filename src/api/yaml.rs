//! Writes a JSON value as block-style YAML (for `openapi.yaml`), reading as people expect YAML to
//! (`openapi: 3.1.0`, `type: object`). A key or string is written plain only when it is a plain
//! word that no YAML reader can take for anything else (a number, a boolean, null, a date, an
//! indicator); every other one is a double-quoted JSON string, which YAML reads back exactly.

use serde_json::Value;

/// `value` as a YAML document; at the top level the keys named in `lead` come first, in that
/// order (JSON objects here are sorted by key, and a reader expects `openapi:` on the first line).
pub fn to_yaml(value: &Value, lead: &[&str]) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => {
            let first = lead.iter().filter_map(|k| map.get_key_value(*k));
            let rest = map.iter().filter(|(k, _)| !lead.contains(&k.as_str()));
            for (key, value) in first.chain(rest) {
                write_entry(&mut out, key, value, 0);
            }
        }
        Value::Array(items) if !items.is_empty() => write_seq(&mut out, items, 0),
        scalar => {
            out.push_str(&scalar_text(scalar));
            out.push('\n');
        }
    }
    out
}

fn write_map(out: &mut String, map: &serde_json::Map<String, Value>, indent: usize) {
    for (key, value) in map {
        write_entry(out, key, value, indent);
    }
}

fn write_entry(out: &mut String, key: &str, value: &Value, indent: usize) {
    push_indent(out, indent);
    out.push_str(&text(key));
    out.push(':');
    write_child(out, value, indent);
}

/// A sequence; an item that is a map starts on the dash's line (`- name: x`), as people write it.
fn write_seq(out: &mut String, items: &[Value], indent: usize) {
    for item in items {
        push_indent(out, indent);
        out.push('-');
        match item {
            Value::Object(map) if !map.is_empty() => {
                out.push(' ');
                for (i, (key, value)) in map.iter().enumerate() {
                    if i > 0 {
                        push_indent(out, indent + 2);
                    }
                    out.push_str(&text(key));
                    out.push(':');
                    write_child(out, value, indent + 2);
                }
            }
            _ => write_child(out, item, indent),
        }
    }
}

/// Writes what follows `key:` or `-`: a scalar on the same line, a collection on the next lines.
fn write_child(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            write_map(out, map, indent + 2);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            write_seq(out, items, indent + 2);
        }
        scalar => {
            out.push(' ');
            out.push_str(&scalar_text(scalar));
            out.push('\n');
        }
    }
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => text(s),
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
    }
}

/// A string as YAML: plain when that is safe, else double-quoted.
fn text(s: &str) -> String {
    if plain_is_safe(s) {
        s.to_string()
    } else {
        Value::String(s.to_string()).to_string()
    }
}

/// Whether `s` reads back as the same string when written plain, in YAML 1.1 and 1.2 alike:
/// letters first, then letters, digits, `_`, `-`, `.` and `/` (no spaces, colons, `#` or
/// brackets), and not one of the words YAML 1.1 reads as a boolean or null. A version such as
/// `3.1.0` (digits and two or more dots) is no number either.
fn plain_is_safe(s: &str) -> bool {
    const WORDS: &[&str] = &["y", "n", "yes", "no", "true", "false", "on", "off", "null"];
    let Some(first) = s.chars().next() else {
        return false;
    };
    let word = first.is_ascii_alphabetic()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
        && !WORDS.contains(&s.to_ascii_lowercase().as_str());
    let version = s.split('.').count() >= 3
        && s.split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    word || version
}

fn push_indent(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_values_become_indented_blocks() {
        let v = serde_json::json!({
            "a": 1,
            "b": {"c": "x: y", "d": [true, null, {"e": []}]},
            "f": {}
        });
        assert_eq!(
            to_yaml(&v, &[]),
            "a: 1\nb:\n  c: \"x: y\"\n  d:\n    - true\n    - null\n    - e: []\nf: {}\n"
        );
    }

    #[test]
    fn strings_yaml_could_reinterpret_are_quoted_and_the_rest_are_plain() {
        let v = serde_json::json!({
            "s": "yes", "m": "0123", "q": "a\"b\nc", "f": "3.1", "d": "2024-01-01",
            "o": "Off", "p": "/api/v1/keys/{id}", "w": "application/json", "v": "3.1.0",
            "e": "", "t": "a b"
        });
        let y = to_yaml(&v, &[]);
        for quoted in [
            "s: \"yes\"",
            "m: \"0123\"",
            r#"q: "a\"b\nc""#,
            "f: \"3.1\"",
            "d: \"2024-01-01\"",
            "o: \"Off\"",
            "p: \"/api/v1/keys/{id}\"",
            "e: \"\"",
            "t: \"a b\"",
        ] {
            assert!(y.contains(quoted), "{quoted} in {y}");
        }
        assert!(y.contains("w: application/json\n"), "{y}");
        assert!(y.contains("v: 3.1.0\n"), "{y}");
    }

    #[test]
    fn lead_keys_come_first_at_the_top_level_only() {
        let v = serde_json::json!({"b": {"z": 1, "a": 2}, "a": 1, "openapi": "3.1.0"});
        assert_eq!(
            to_yaml(&v, &["openapi", "b"]),
            "openapi: 3.1.0\nb:\n  a: 2\n  z: 1\na: 1\n"
        );
    }
}
