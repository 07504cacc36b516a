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
            let mut object = serde_json::Map::new();
            object.insert("suite".into(), suite.into());
            for (key, value) in fields {
                let value = match value {
                    Value::Str(s) => s.as_str().into(),
                    Value::Int(n) => (*n).into(),
                    // Non-finite figures (a ratio over a zero time) are null, as JSON has no NaN.
                    Value::Num(x) => (*x).into(),
                };
                object.insert((*key).into(), value);
            }
            line = serde_json::Value::Object(object).to_string();
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
