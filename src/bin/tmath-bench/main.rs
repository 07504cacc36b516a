//! `tmath-bench`: the native benchmark CLI.
//!
//! ```text
//! cargo run --release --bin tmath-bench -- [pool|transfer|bounded|precision|matmul|kernels|e2e|all] [--json]
//! ```
//!
//! Every figure is measured in this run; comparisons are ratios of two measurements taken side by
//! side. `--json` prints one JSON object per line, each with a `suite` field. One module per suite;
//! `report` writes the lines and `measure` holds the timing helpers they share.

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
mod bounded;
#[cfg(not(target_arch = "wasm32"))]
mod e2e;
#[cfg(not(target_arch = "wasm32"))]
mod kernels;
#[cfg(not(target_arch = "wasm32"))]
mod matmul;
#[cfg(not(target_arch = "wasm32"))]
mod measure;
#[cfg(not(target_arch = "wasm32"))]
mod peak;
#[cfg(not(target_arch = "wasm32"))]
mod pool;
#[cfg(not(target_arch = "wasm32"))]
mod precision;
#[cfg(not(target_arch = "wasm32"))]
mod report;
#[cfg(not(target_arch = "wasm32"))]
mod transfer;

#[cfg(not(target_arch = "wasm32"))]
use report::{Report, Value};
#[cfg(not(target_arch = "wasm32"))]
use tmath::{Engine, EngineConfig};

#[cfg(not(target_arch = "wasm32"))]
const SUITES: [&str; 7] = [
    "pool",
    "transfer",
    "bounded",
    "precision",
    "matmul",
    "kernels",
    "e2e",
];

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let mut suites: Vec<&str> = args
        .iter()
        .filter(|a| !a.starts_with("--"))
        .map(String::as_str)
        .collect();
    if suites.is_empty() || suites.contains(&"all") {
        suites = SUITES.to_vec();
    }
    if let Some(unknown) = suites.iter().find(|s| !SUITES.contains(s)) {
        eprintln!(
            "tmath-bench: unknown suite {unknown:?}; suites: {} or all",
            SUITES.join(", ")
        );
        std::process::exit(2);
    }
    let engine = match Engine::new_blocking(EngineConfig::default()) {
        Ok(engine) => engine,
        Err(e) => {
            eprintln!("tmath-bench: {e}");
            std::process::exit(1);
        }
    };
    let mut out = Report { json, lines: 0 };
    let a = engine.adapter();
    out.record(
        "adapter",
        &[
            ("name", Value::Str(a.name.clone())),
            ("backend", Value::Str(a.backend.clone())),
            ("device_type", Value::Str(a.device_type.as_str().into())),
            ("driver", Value::Str(a.driver.clone())),
            ("max_buffer_size", Value::Int(a.max_buffer_size)),
            ("shader_f16", Value::Str(a.shader_f16.to_string())),
            ("subgroups", Value::Str(a.subgroups.to_string())),
            (
                "workgroup_storage",
                Value::Int(a.max_workgroup_storage_bytes as u64),
            ),
        ],
    );
    for suite in suites {
        match suite {
            "pool" => pool::pool_suite(&mut out),
            "transfer" => transfer::transfer_suite(&mut out),
            "bounded" => bounded::bounded_suite(&mut out),
            "precision" => precision::precision_suite(&mut out),
            "matmul" => matmul::matmul_suite(&mut out),
            "kernels" => kernels::kernels_suite(&mut out),
            "e2e" => e2e::e2e_suite(&mut out),
            _ => unreachable!("checked above"),
        }
    }
}
