//! Writes a JSON value as block-style YAML (for `openapi.yaml`). Every string is emitted as a
//! double-quoted JSON string, which YAML reads back exactly, so no escaping rule of YAML's own
//! can change a value.

use serde_json::Value;

/// `value` as a YAML document.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => write_map(&mut out, map, 0),
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
        push_indent(out, indent);
        out.push_str(&quote(key));
        out.push(':');
        write_child(out, value, indent);
    }
}

fn write_seq(out: &mut String, items: &[Value], indent: usize) {
    for item in items {
        push_indent(out, indent);
        out.push('-');
        write_child(out, item, indent);
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
        Value::String(s) => quote(s),
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
    }
}

fn quote(s: &str) -> String {
    Value::String(s.to_string()).to_string()
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
            to_yaml(&v),
            "\"a\": 1\n\"b\":\n  \"c\": \"x: y\"\n  \"d\":\n    - true\n    - null\n    -\n      \"e\": []\n\"f\": {}\n"
        );
    }

    #[test]
    fn strings_are_quoted_so_yaml_cannot_reinterpret_them() {
        let v = serde_json::json!({"s": "yes", "n": "0123", "q": "a\"b\nc"});
        let y = to_yaml(&v);
        assert!(y.contains("\"s\": \"yes\""));
        assert!(y.contains("\"n\": \"0123\""));
        assert!(y.contains(r#""q": "a\"b\nc""#));
    }
}
