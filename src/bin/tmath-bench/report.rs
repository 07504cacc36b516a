//! The report: a text line per figure, or with `--json` one JSON object per line.

use std::fmt::Write as _;
use std::io::Write as _;

/// Human-readable lines, or one JSON object per line.
pub(crate) struct Report {
    pub(crate) json: bool,
    pub(crate) lines: usize,
}

pub(crate) enum Value {
    Str(String),
    Int(u64),
    Num(f64),
}

impl Report {
    pub(crate) fn record(&mut self, suite: &str, fields: &[(&str, Value)]) {
        self.lines += 1;
        let mut line = String::new();
        if self.json {
            let _ = write!(line, "{{\"suite\":\"{suite}\"");
            for (key, value) in fields {
                let _ = match value {
                    Value::Str(s) => write!(line, ",\"{key}\":{}", json_string(s)),
                    Value::Int(n) => write!(line, ",\"{key}\":{n}"),
                    Value::Num(x) if x.is_finite() => write!(line, ",\"{key}\":{x}"),
                    Value::Num(_) => write!(line, ",\"{key}\":null"),
                };
            }
            line.push('}');
        } else {
            let _ = write!(line, "[{suite}]");
            for (key, value) in fields {
                let _ = match value {
                    Value::Str(s) => write!(line, " {key}={s}"),
                    Value::Int(n) => write!(line, " {key}={n}"),
                    Value::Num(x) => write!(line, " {key}={x:.3}"),
                };
            }
        }
        // A closed pipe (`| head`) ends the run quietly instead of panicking.
        if writeln!(std::io::stdout().lock(), "{line}").is_err() {
            std::process::exit(0);
        }
    }
}

pub(crate) fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
