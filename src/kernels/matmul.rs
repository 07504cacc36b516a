//! The matmul kernel, generated per tile shape and input format.
//!
//! One workgroup of 16×16 invocations computes a `16·rows × 16·cols` block of C; each invocation
//! accumulates a `rows × cols` register block (in 4×4 pieces spaced 64 apart, so its reads of the
//! shared tiles are whole, conflict-free vec4s). k advances `depth` at a time through two
//! workgroup-memory buffers: while the invocations multiply out of one, the next slice of A and B
//! is already loading from global memory into registers, and lands in the other buffer, so each
//! step costs one barrier and the load latency hides behind the arithmetic.
//!
//! Where k and n are multiples of 4 (the `vector` form) every global access moves 4 elements
//! (16 bytes of float32); elsewhere loads go element by element with bounds checks. Inputs are
//! float32, float16 (hardware conversion with `shader-f16`, exact integer unpacking without) or
//! bfloat16, widened exactly to float32 on load; accumulation and the output are float32, except
//! in the float16-arithmetic form (`MatmulInput::F16Math`), whose tiles and step sums are f16.
//!
//! The source is generated (rather than specialised by override constants) because the register
//! block is unrolled into named variables and workgroup arrays are sized by the tile.

use std::fmt::Write;

/// The tile shape of one matmul variant: each invocation computes `rows × cols` outputs
/// (4 or 8 each), k advances `depth` (8, 16 or 32) per step. A workgroup covers
/// `16·rows × 16·cols` outputs and holds `2 · depth · 16 · (rows + cols) · 4` bytes of workgroup
/// memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MatmulTiles {
    /// Output rows per invocation: 4 or 8.
    pub rows: u32,
    /// Output columns per invocation: 4 or 8.
    pub cols: u32,
    /// k per step: 8, 16 or 32.
    pub depth: u32,
}

impl MatmulTiles {
    /// Every tile shape tmath builds, the candidates of [`Engine::tune_matmul`](crate::Engine::tune_matmul).
    pub const ALL: [MatmulTiles; 7] = [
        MatmulTiles::new(4, 4, 16),
        MatmulTiles::new(4, 4, 32),
        MatmulTiles::new(8, 4, 16),
        MatmulTiles::new(4, 8, 16),
        MatmulTiles::new(8, 8, 8),
        MatmulTiles::new(8, 8, 16),
        MatmulTiles::new(4, 8, 32),
    ];

    /// A tile shape (not checked: see [`MatmulTiles::parse`] for checked input).
    pub const fn new(rows: u32, cols: u32, depth: u32) -> MatmulTiles {
        MatmulTiles { rows, cols, depth }
    }

    /// Output rows a workgroup covers.
    pub fn block_rows(self) -> u32 {
        16 * self.rows
    }

    /// Output columns a workgroup covers.
    pub fn block_cols(self) -> u32 {
        16 * self.cols
    }

    /// Workgroup memory the variant needs (two buffers of an A and a B slice, float32).
    pub fn workgroup_bytes(self) -> u32 {
        2 * self.depth * (self.block_rows() + self.block_cols()) * 4
    }

    /// Whether a device with `max_workgroup_bytes` of workgroup memory runs this shape: it is one
    /// of [`MatmulTiles::ALL`] and its tiles fit.
    pub fn runs_within(self, max_workgroup_bytes: u32) -> bool {
        MatmulTiles::ALL.contains(&self) && self.workgroup_bytes() <= max_workgroup_bytes
    }

    /// `"8x8x16"`: rows × cols × depth.
    pub fn name(self) -> String {
        format!("{}x{}x{}", self.rows, self.cols, self.depth)
    }

    /// Parse `"8x8x16"`; `None` unless it is one of [`MatmulTiles::ALL`].
    pub fn parse(text: &str) -> Option<MatmulTiles> {
        let mut parts = text.trim().split('x').map(|p| p.parse::<u32>().ok());
        let tiles = MatmulTiles::new(parts.next()??, parts.next()??, parts.next()??);
        (parts.next().is_none() && MatmulTiles::ALL.contains(&tiles)).then_some(tiles)
    }
}

impl std::fmt::Display for MatmulTiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

/// How the kernel reads its inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum MatmulInput {
    F32,
    /// float16 as WGSL `f16` (`shader-f16`): the hardware widens it.
    F16,
    /// float16 as WGSL `f16`, multiplied in float16: the products of each k step and their sum
    /// in float16, added into float32 accumulators between steps (`Engine::matmul_with`).
    F16Math,
    /// float16 packed two to a u32, widened by integer operations (no `shader-f16`).
    F16Packed,
    /// bfloat16 packed two to a u32 (widening is a shift).
    BF16,
}

/// The WGSL of one variant.
pub(crate) fn source(input: MatmulInput, tiles: MatmulTiles, vector: bool) -> String {
    let MatmulTiles { rows, cols, depth } = tiles;
    let (bm, bn) = (tiles.block_rows(), tiles.block_cols());
    let mut s = String::new();
    let half = input == MatmulInput::F16Math;
    if matches!(input, MatmulInput::F16 | MatmulInput::F16Math) {
        s.push_str("enable f16;\n");
    }
    // The type of the shared tiles, the prefetch registers and the products.
    let t = if half { "f16" } else { "f32" };
    if input == MatmulInput::F16Packed {
        s.push_str(include_str!("f16.wgsl"));
    }
    let elem = match (input, vector) {
        (MatmulInput::F32, true) => "vec4<f32>",
        (MatmulInput::F32, false) => "f32",
        (MatmulInput::F16 | MatmulInput::F16Math, true) => "vec4<f16>",
        (MatmulInput::F16 | MatmulInput::F16Math, false) => "f16",
        (_, true) => "vec2<u32>",
        (_, false) => "u32",
    };
    let out = if vector { "vec4<f32>" } else { "f32" };
    let _ = write!(
        s,
        "
struct Params {{ m: u32, n: u32, k: u32, a_batch: u32, b_batch: u32, c_batch: u32 }}
@group(0) @binding(0) var<storage, read> a: array<{elem}>;
@group(0) @binding(1) var<storage, read> b: array<{elem}>;
@group(0) @binding(2) var<storage, read_write> c: array<{out}>;
@group(0) @binding(3) var<uniform> p: Params;
var<workgroup> tile_a: array<vec4<{t}>, {ta}>;
var<workgroup> tile_b: array<vec4<{t}>, {tb}>;
",
        ta = 2 * depth * bm / 4,
        tb = 2 * depth * bn / 4,
    );
    // Loads: `load_x4(i)` reads the 4 elements of vec4 index i, `load_x(i)` element i.
    for x in ["a", "b"] {
        let body = match (input, vector) {
            (MatmulInput::F32 | MatmulInput::F16Math, _) => format!("return {x}[i];"),
            (MatmulInput::F16, true) => format!("return vec4<f32>({x}[i]);"),
            (MatmulInput::F16, false) => format!("return f32({x}[i]);"),
            (MatmulInput::F16Packed, true) => format!(
                "let w = {x}[i]; return vec4<f32>(h2f(w.x & 0xffffu), h2f(w.x >> 16u), h2f(w.y & 0xffffu), h2f(w.y >> 16u));"
            ),
            (MatmulInput::F16Packed, false) => {
                format!("return h2f(({x}[i >> 1u] >> ((i & 1u) * 16u)) & 0xffffu);")
            }
            (MatmulInput::BF16, true) => format!(
                "let w = {x}[i]; return bitcast<vec4<f32>>(vec4<u32>(w.x << 16u, w.x & 0xffff0000u, w.y << 16u, w.y & 0xffff0000u));"
            ),
            (MatmulInput::BF16, false) => {
                format!("return bitcast<f32>((({x}[i >> 1u] >> ((i & 1u) * 16u)) & 0xffffu) << 16u);")
            }
        };
        let (name, ret) = if vector {
            (format!("load_{x}4"), format!("vec4<{t}>"))
        } else {
            (format!("load_{x}"), t.to_string())
        };
        let _ = writeln!(s, "fn {name}(i: u32) -> {ret} {{ {body} }}");
    }
    if input == MatmulInput::F16Packed {
        s.push_str("fn h2f(h: u32) -> f32 { return bitcast<f32>(f16_to_f32(h)); }\n");
    }

    // Global → register loads of one k slice, and register → workgroup-memory stores.
    let per = |total: u32| total.div_ceil(256);
    let (a_total, b_total) = if vector {
        (bm * depth / 4, depth * bn / 4)
    } else {
        (bm * depth, depth * bn)
    };
    let reg = if vector {
        format!("vec4<{t}>")
    } else {
        t.to_string()
    };
    let mut fetch = String::new();
    let mut stash = String::new();
    let (q_a, q_b, bm4, bn4) = (depth / 4, bn / 4, bm / 4, bn / 4);
    // A: rows i of the block, k columns kc; B: k rows kb, columns cc. `REG` is the register.
    let (a_split, a_at, a_store) = if vector {
        (
            format!("let i = v / {q_a}u; let kc = t0 + (v % {q_a}u) * 4u;"),
            "load_a4((a_base + r * p.k + kc) / 4u)",
            format!(
                "let i = v / {q_a}u; let at = base_a + (v % {q_a}u) * {bm}u + i / 4u; let lane = i % 4u; tile_a[at][lane] = REG.x; tile_a[at + {bm4}u][lane] = REG.y; tile_a[at + {two}u][lane] = REG.z; tile_a[at + {three}u][lane] = REG.w;",
                two = bm / 2,
                three = 3 * bm / 4,
            ),
        )
    } else {
        (
            format!("let i = v / {depth}u; let kc = t0 + v % {depth}u;"),
            "load_a(a_base + r * p.k + kc)",
            format!("let i = v / {depth}u; tile_a[base_a + (v % {depth}u) * {bm4}u + i / 4u][i % 4u] = REG;"),
        )
    };
    let (b_split, b_at, b_store) = if vector {
        (
            format!("let kr = v / {q_b}u; let cc = col0 + (v % {q_b}u) * 4u;"),
            "load_b4((b_base + kb * p.n + cc) / 4u)",
            format!("tile_b[base_b + v / {q_b}u * {q_b}u + v % {q_b}u] = REG;"),
        )
    } else {
        (
            format!("let kr = v / {bn}u; let cc = col0 + v % {bn}u;"),
            "load_b(b_base + kb * p.n + cc)",
            format!(
                "let j = v % {bn}u; tile_b[base_b + (v / {bn}u) * {bn4}u + j / 4u][j % 4u] = REG;"
            ),
        )
    };
    for (total, name, split, locate, load, store) in [
        (
            a_total,
            "ra",
            a_split,
            "let r = row0 + i; let inside = r < p.m && kc < p.k;",
            a_at,
            a_store,
        ),
        (
            b_total,
            "rb",
            b_split,
            "let kb = t0 + kr; let inside = kb < p.k && cc < p.n;",
            b_at,
            b_store,
        ),
    ] {
        // Slices that are not a multiple of 256 leave the last invocations without an element.
        let (fetch_guard, stash_guard) = if total % 256 != 0 {
            (format!("v < {total}u && "), format!("if (v < {total}u) "))
        } else {
            (String::new(), String::new())
        };
        for e in 0..per(total) {
            let (o, r) = (e * 256, format!("{name}{e}"));
            let _ = writeln!(
                fetch,
                "{{ let v = flat + {o}u; {split} {locate} {r} = {reg}(); if ({fetch_guard}inside) {{ {r} = {load}; }} }}"
            );
            let store = store.replace("REG", &r);
            let _ = writeln!(
                stash,
                "{{ let v = flat + {o}u; {stash_guard}{{ {store} }} }}"
            );
        }
    }
    let _ = writeln!(
        s,
        "@compute @workgroup_size(16, 16, 1)
fn main(
    @builtin(workgroup_id) group: vec3<u32>,
    @builtin(local_invocation_id) local: vec3<u32>,
    @builtin(local_invocation_index) flat: u32,
) {{
    let batch = group.z;
    let row0 = group.y * {bm}u;
    let col0 = group.x * {bn}u;
    let a_base = batch * p.a_batch;
    let b_base = batch * p.b_batch;
    let tx = local.x;
    let ty = local.y;"
    );
    for e in 0..per(a_total) {
        let _ = writeln!(s, "    var ra{e}: {reg};");
    }
    for e in 0..per(b_total) {
        let _ = writeln!(s, "    var rb{e}: {reg};");
    }
    let (rb, cb) = (rows / 4, cols / 4);
    // The register block's accumulators: 4×4 piece i (rows), row r in it, piece j (columns).
    let cells =
        || (0..rb).flat_map(move |i| (0..4u32).flat_map(move |r| (0..cb).map(move |j| (i, r, j))));
    for (i, r, j) in cells() {
        let _ = writeln!(s, "    var acc_{i}_{r}_{j} = vec4<f32>();");
        if half {
            let _ = writeln!(s, "    var part_{i}_{r}_{j} = vec4<f16>();");
        }
    }
    let slice_a = depth * bm / 4;
    let slice_b = depth * bn / 4;
    let _ = write!(
        s,
        "    var t0 = 0u;
{fetch}    {{ let base_a = 0u; let base_b = 0u;
{stash}    }}
    workgroupBarrier();
    var cur = 0u;
    for (var t = 0u; t < p.k; t += {depth}u) {{
        t0 = t + {depth}u;
        let more = t0 < p.k;
        if (more) {{
{fetch}        }}
        let oa = cur * {slice_a}u + ty;
        let ob = cur * {slice_b}u + tx;
"
    );
    // Unrolled by hand: naga bounds every WGSL loop with a counter, which keeps drivers from
    // unrolling it themselves.
    for kk in 0..depth {
        let _ = writeln!(s, "        {{");
        for i in 0..rb {
            let _ = writeln!(
                s,
                "            let a{i} = tile_a[oa + {o}u];",
                o = kk * bm / 4 + i * 16
            );
        }
        for j in 0..cb {
            let _ = writeln!(
                s,
                "            let b{j} = tile_b[ob + {o}u];",
                o = kk * bn / 4 + j * 16
            );
        }
        let sum = if half { "part" } else { "acc" };
        for (i, r, j) in cells() {
            let _ = writeln!(s, "            {sum}_{i}_{r}_{j} += a{i}[{r}] * b{j};");
        }
        let _ = writeln!(s, "        }}");
    }
    if half {
        // The step's float16 sums join the float32 accumulators.
        for (i, r, j) in cells() {
            let _ = writeln!(
                s,
                "        acc_{i}_{r}_{j} += vec4<f32>(part_{i}_{r}_{j}); part_{i}_{r}_{j} = vec4<f16>();"
            );
        }
    }
    let _ = write!(
        s,
        "        if (more) {{
            let base_a = (1u - cur) * {slice_a}u;
            let base_b = (1u - cur) * {slice_b}u;
{stash}        }}
        workgroupBarrier();
        cur = 1u - cur;
    }}
    let c_base = batch * p.c_batch;
",
    );
    for (i, r, j) in cells() {
        let row = format!("row0 + {}u + ty * 4u", i * 64 + r);
        let col = format!("col0 + {}u + tx * 4u", j * 64);
        let _ = writeln!(s, "    store4(c_base, {row}, {col}, acc_{i}_{r}_{j});");
    }
    s.push_str("}\n");
    // Stores of four consecutive columns of one row, skipping what lies outside C.
    if vector {
        s.push_str(
            "fn store4(base: u32, r: u32, cc: u32, v: vec4<f32>) {
    if (r < p.m && cc < p.n) { c[(base + r * p.n + cc) / 4u] = v; }
}
",
        );
    } else {
        s.push_str(
            "fn store4(base: u32, r: u32, cc: u32, v: vec4<f32>) {
    if (r >= p.m) { return; }
    let at = base + r * p.n + cc;
    if (cc + 3u < p.n) {
        c[at] = v.x; c[at + 1u] = v.y; c[at + 2u] = v.z; c[at + 3u] = v.w;
        return;
    }
    for (var j = 0u; j < 4u; j++) { if (cc + j < p.n) { c[at + j] = v[j]; } }
}
",
        );
    }
    s
}
