//! The Azure CLI's output conventions for `redlink ctl` reads (and `redlink ls`): `--query` (a
//! JMESPath expression, applied first, as az does) and `-o json|jsonc|table|tsv|yaml|none`.
//!
//! As az: `json` is indented JSON; `jsonc` is the same, coloured when stdout is a terminal (plain
//! otherwise: no escape codes in files or pipes); `table` shows the scalar fields of each object
//! (one row per element of a list) under their names; `tsv` is the same values tab-separated
//! without a header (for shell scripts); `yaml` is block-style YAML; `none` prints nothing.

use std::fmt::Write as _;
use std::io::IsTerminal as _;

use serde_json::Value as Json;

/// An output format (`-o`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Indented JSON (the default).
    #[default]
    Json,
    /// JSON, coloured on a terminal.
    Jsonc,
    /// A table of the scalar fields.
    Table,
    /// Tab-separated values, no header.
    Tsv,
    /// YAML.
    Yaml,
    /// Nothing.
    None,
}

/// How to print a read.
#[derive(Clone, Debug, Default)]
pub struct Output {
    /// The format.
    pub format: Format,
    /// A JMESPath expression applied before formatting.
    pub query: Option<String>,
}

impl Output {
    /// `value` queried and formatted (no trailing newline), or why the query failed.
    pub fn render(&self, value: &Json) -> Result<String, String> {
        let value = match &self.query {
            None => value.clone(),
            Some(q) => query(q, value)?,
        };
        Ok(match self.format {
            Format::Json => pretty(&value),
            Format::Jsonc if std::io::stdout().is_terminal() => coloured(&value),
            Format::Jsonc => pretty(&value),
            Format::Table => table_of(&value),
            Format::Tsv => tsv(&value),
            Format::Yaml => yaml(&value),
            Format::None => String::new(),
        })
    }
}

/// Applies JMESPath expression `expr` to `value`.
pub fn query(expr: &str, value: &Json) -> Result<Json, String> {
    let compiled = jmespath::compile(expr).map_err(|e| format!("--query {expr:?}: {e}"))?;
    let data = jmespath::Variable::from_json(&value.to_string())
        .map_err(|e| format!("--query {expr:?}: {e}"))?;
    let found = compiled
        .search(data)
        .map_err(|e| format!("--query {expr:?}: {e}"))?;
    serde_json::to_value(&*found).map_err(|e| format!("--query {expr:?}: {e}"))
}

fn pretty(value: &Json) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

/// A scalar as az prints it in a table or TSV cell.
fn cell(value: &Json) -> Option<String> {
    match value {
        Json::Null => Some(String::new()),
        Json::Bool(b) => Some(if *b { "True" } else { "False" }.to_owned()),
        Json::Number(n) => Some(n.to_string()),
        Json::String(s) => Some(s.clone()),
        Json::Array(_) | Json::Object(_) => None,
    }
}

/// The rows of `value`: each object's scalar fields (az drops nested values from tables).
fn rows(value: &Json) -> (Vec<String>, Vec<Vec<String>>) {
    let items: Vec<&Json> = match value {
        Json::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let mut columns: Vec<String> = Vec::new();
    for item in &items {
        if let Json::Object(map) = item {
            for (k, v) in map {
                if cell(v).is_some() && !columns.contains(k) {
                    columns.push(k.clone());
                }
            }
        }
    }
    let rows = items
        .iter()
        .map(|item| match item {
            Json::Object(map) => columns
                .iter()
                .map(|c| map.get(c).and_then(cell).unwrap_or_default())
                .collect(),
            scalar => vec![cell(scalar).unwrap_or_else(|| scalar.to_string())],
        })
        .collect();
    (columns, rows)
}

/// az's column title for a key: `resolvesTo` → `ResolvesTo`.
fn title(key: &str) -> String {
    let mut chars = key.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn table_of(value: &Json) -> String {
    let (columns, rows) = rows(value);
    if columns.is_empty() {
        return rows
            .iter()
            .map(|r| r.join("  "))
            .collect::<Vec<_>>()
            .join("\n");
    }
    let header: Vec<String> = columns.iter().map(|c| title(c)).collect();
    table(&header, &rows)
}

/// Lines as a table: a header, a rule, then the rows, columns padded to their widest cell.
pub fn table(header: &[impl AsRef<str>], rows: &[impl AsRef<[String]>]) -> String {
    let cols = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| h.as_ref().chars().count()).collect();
    for row in rows {
        for (c, cell) in row.as_ref().iter().enumerate().take(cols) {
            widths[c] = widths[c].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let mut out = String::new();
        for (c, cell) in cells.iter().enumerate() {
            let _ = write!(out, "{cell:<w$}  ", w = widths[c]);
        }
        out.trim_end().to_owned()
    };
    let rule = widths
        .iter()
        .map(|w| "-".repeat(*w))
        .collect::<Vec<_>>()
        .join("  ");
    let mut out = vec![line(header.iter().map(AsRef::as_ref).collect()), rule];
    for row in rows {
        out.push(line(row.as_ref().iter().map(String::as_str).collect()));
    }
    out.join("\n")
}

fn tsv(value: &Json) -> String {
    let (_, rows) = rows(value);
    rows.iter()
        .map(|r| r.join("\t"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A YAML scalar: plain when unambiguous, else a JSON-style double-quoted string (valid YAML).
fn yaml_scalar(value: &Json) -> String {
    match value {
        Json::Null => "null".to_owned(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => n.to_string(),
        Json::String(s) => {
            let plain = !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./@+".contains(c))
                && !s.starts_with(['-', '.', '@'])
                && s.parse::<f64>().is_err()
                && !matches!(
                    s.to_ascii_lowercase().as_str(),
                    "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "~"
                );
            if plain {
                s.clone()
            } else {
                Json::String(s.clone()).to_string()
            }
        }
        Json::Array(_) => "[]".to_owned(),
        Json::Object(_) => "{}".to_owned(),
    }
}

fn yaml_into(out: &mut String, value: &Json, indent: usize) {
    let pad = " ".repeat(indent);
    match value {
        Json::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                let key = yaml_scalar(&Json::String(k.clone()));
                match v {
                    Json::Object(m) if !m.is_empty() => {
                        let _ = writeln!(out, "{pad}{key}:");
                        yaml_into(out, v, indent + 2);
                    }
                    Json::Array(a) if !a.is_empty() => {
                        let _ = writeln!(out, "{pad}{key}:");
                        yaml_into(out, v, indent);
                    }
                    scalar => {
                        let _ = writeln!(out, "{pad}{key}: {}", yaml_scalar(scalar));
                    }
                }
            }
        }
        Json::Array(items) if !items.is_empty() => {
            for item in items {
                match item {
                    Json::Object(m) if !m.is_empty() => {
                        let mut inner = String::new();
                        yaml_into(&mut inner, item, indent + 2);
                        // The first key goes on the dash's line.
                        let inner = inner.trim_start();
                        let _ = write!(out, "{pad}- {inner}");
                    }
                    Json::Array(a) if !a.is_empty() => {
                        let _ = writeln!(out, "{pad}-");
                        yaml_into(out, item, indent + 2);
                    }
                    scalar => {
                        let _ = writeln!(out, "{pad}- {}", yaml_scalar(scalar));
                    }
                }
            }
        }
        scalar => {
            let _ = writeln!(out, "{pad}{}", yaml_scalar(scalar));
        }
    }
}

fn yaml(value: &Json) -> String {
    let mut out = String::new();
    yaml_into(&mut out, value, 0);
    out.trim_end().to_owned()
}

/// JSON with ANSI colours (keys blue, strings green, numbers and literals yellow), as az's jsonc.
fn coloured(value: &Json) -> String {
    const KEY: &str = "\x1b[94m";
    const STRING: &str = "\x1b[32m";
    const LITERAL: &str = "\x1b[33m";
    const RESET: &str = "\x1b[0m";
    fn walk(out: &mut String, v: &Json, indent: usize) {
        let pad = "  ".repeat(indent + 1);
        let end = "  ".repeat(indent);
        match v {
            Json::Object(map) if !map.is_empty() => {
                out.push_str("{\n");
                for (i, (k, v)) in map.iter().enumerate() {
                    let _ = write!(out, "{pad}{KEY}{}{RESET}: ", Json::String(k.clone()));
                    walk(out, v, indent + 1);
                    out.push_str(if i + 1 < map.len() { ",\n" } else { "\n" });
                }
                let _ = write!(out, "{end}}}");
            }
            Json::Array(items) if !items.is_empty() => {
                out.push_str("[\n");
                for (i, v) in items.iter().enumerate() {
                    out.push_str(&pad);
                    walk(out, v, indent + 1);
                    out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
                }
                let _ = write!(out, "{end}]");
            }
            Json::String(_) => {
                let _ = write!(out, "{STRING}{v}{RESET}");
            }
            other => {
                let _ = write!(out, "{LITERAL}{other}{RESET}");
            }
        }
    }
    let mut out = String::new();
    walk(&mut out, value, 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn queries_run_before_formatting() {
        let v =
            json!([{"name": "pe-hub", "state": "Approved"}, {"name": "pe-2", "state": "Pending"}]);
        assert_eq!(
            query("[?state=='Pending'].name | [0]", &v).expect("query"),
            json!("pe-2")
        );
        assert!(query("[?", &v).is_err());
    }

    #[test]
    fn tables_show_scalar_fields_under_titles() {
        let v = json!([{"name": "a", "n": 1, "nested": {"x": 1}}, {"name": "b", "n": 2}]);
        let t = table_of(&v);
        let lines: Vec<&str> = t.lines().collect();
        // Columns in the JSON's key order (sorted, as redlink's JSON objects are).
        assert_eq!(lines[0], "N  Name");
        assert_eq!(lines[1], "-  ----");
        assert_eq!(lines[2], "1  a");
        assert_eq!(tsv(&v), "1\ta\n2\tb");
    }

    #[test]
    fn yaml_is_block_style_and_quotes_what_needs_it() {
        let v = json!({"name": "pe-hub", "ports": [6379, 6380], "note": "a: b", "mode": "yes",
                       "list": [{"a": 1, "b": "x"}]});
        let y = yaml(&v);
        assert!(y.contains("name: pe-hub"), "{y}");
        assert!(y.contains("ports:\n- 6379\n- 6380"), "{y}");
        assert!(y.contains("note: \"a: b\""), "{y}");
        assert!(y.contains("mode: \"yes\""), "{y}");
        assert!(y.contains("list:\n- a: 1\n  b: x"), "{y}");
    }
}
