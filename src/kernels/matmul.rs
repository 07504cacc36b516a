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
/// (4 or 8 each), k advances `depth` (8, 16 or 32) per step.
///
/// The portable kernels (`subgroups: false`) run 16×16 invocations, so a workgroup covers
/// `16·rows × 16·cols` outputs, and hold both operands' slices in workgroup memory, twice
/// (`2 · depth · 16 · (rows + cols) · 4` bytes).
///
/// The subgroup kernels (`subgroups: true`, named `"8x4x32-sg"`; adapters with subgroup
/// operations, n a multiple of 4; float32, float16 and bfloat16 inputs, float16 without
/// `shader-f16` only in a fixed shape: see `tuning::subgroups_allowed`) run 8 rows
/// of 32 invocations, each computing `rows` rows of one 4-column group, so a workgroup covers
/// `8·rows × 128` outputs. Only B's slice goes through workgroup memory (`32 · 128 · 4` =
/// 16 KiB): each invocation loads one element of A per row and k step from global memory, and
/// the others of its row take it from its registers with `subgroupBroadcast`, which on an H100
/// beats reading A from workgroup memory. The tuner measures them with the portable shapes on
/// GPUs; products they cannot take run the fastest portable shape measured (or the default).
/// CPU devices gain nothing from them, and SwiftShader takes minutes and gigabytes to compile
/// `16x4x32-sg` (`4x4x32-sg` and `8x4x32-sg` about a second): do not fix that shape there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MatmulTiles {
    /// Output rows per invocation: 4 or 8 (the subgroup kernel: 4, 8 or 16).
    pub rows: u32,
    /// Output columns per invocation: 4 or 8.
    pub cols: u32,
    /// k per step: 8, 16 or 32.
    pub depth: u32,
    /// The subgroup kernel (`cols` 4, `depth` 32) rather than the portable one.
    pub subgroups: bool,
}

impl MatmulTiles {
    /// Every tile shape tmath builds, the candidates of [`Engine::tune_matmul`](crate::Engine::tune_matmul).
    pub const ALL: [MatmulTiles; 10] = [
        MatmulTiles::new(4, 4, 16),
        MatmulTiles::new(4, 4, 32),
        MatmulTiles::new(8, 4, 16),
        MatmulTiles::new(4, 8, 16),
        MatmulTiles::new(8, 8, 8),
        MatmulTiles::new(8, 8, 16),
        MatmulTiles::new(4, 8, 32),
        MatmulTiles::subgroup(4),
        MatmulTiles::subgroup(8),
        MatmulTiles::subgroup(16),
    ];

    /// A portable tile shape (not checked: see [`MatmulTiles::parse`] for checked input).
    pub const fn new(rows: u32, cols: u32, depth: u32) -> MatmulTiles {
        MatmulTiles {
            rows,
            cols,
            depth,
            subgroups: false,
        }
    }

    /// The subgroup kernel with `rows` rows per invocation (4, 8 or 16; not checked).
    pub const fn subgroup(rows: u32) -> MatmulTiles {
        MatmulTiles {
            rows,
            cols: 4,
            depth: SUBGROUP_DEPTH,
            subgroups: true,
        }
    }

    /// Output rows a workgroup covers.
    pub fn block_rows(self) -> u32 {
        if self.subgroups {
            SUBGROUP_ROWS * self.rows
        } else {
            16 * self.rows
        }
    }

    /// Output columns a workgroup covers.
    pub fn block_cols(self) -> u32 {
        if self.subgroups {
            SUBGROUP_LANES * 4
        } else {
            16 * self.cols
        }
    }

    /// Workgroup memory the variant needs (float32): two buffers of an A and a B slice, or for
    /// the subgroup kernel one B slice.
    pub fn workgroup_bytes(self) -> u32 {
        if self.subgroups {
            self.depth * self.block_cols() * 4
        } else {
            2 * self.depth * (self.block_rows() + self.block_cols()) * 4
        }
    }

    /// Whether a device with `max_workgroup_bytes` of workgroup memory runs this shape: it is one
    /// of [`MatmulTiles::ALL`] and its tiles fit. (A subgroup shape also needs subgroup
    /// operations; without them its products run the default portable shape.)
    pub fn runs_within(self, max_workgroup_bytes: u32) -> bool {
        MatmulTiles::ALL.contains(&self) && self.workgroup_bytes() <= max_workgroup_bytes
    }

    /// `"8x8x16"`: rows × cols × depth, and `-sg` for the subgroup kernel.
    pub fn name(self) -> String {
        let sg = if self.subgroups { "-sg" } else { "" };
        format!("{}x{}x{}{sg}", self.rows, self.cols, self.depth)
    }

    /// Parse `"8x8x16"` or `"8x4x32-sg"`; `None` unless it is one of [`MatmulTiles::ALL`].
    pub fn parse(text: &str) -> Option<MatmulTiles> {
        let text = text.trim();
        let (dims, subgroups) = match text.strip_suffix("-sg") {
            Some(dims) => (dims, true),
            None => (text, false),
        };
        let mut parts = dims.split('x').map(|p| p.parse::<u32>().ok());
        let tiles = MatmulTiles {
            rows: parts.next()??,
            cols: parts.next()??,
            depth: parts.next()??,
            subgroups,
        };
        (parts.next().is_none() && MatmulTiles::ALL.contains(&tiles)).then_some(tiles)
    }
}

/// The subgroup kernel's logical rows of invocations (a workgroup is `SUBGROUP_ROWS` of them).
const SUBGROUP_ROWS: u32 = 8;
/// Invocations per logical row: each takes one 4-column group, and an element of A loaded by
/// the one at position j serves the whole row at k step j.
const SUBGROUP_LANES: u32 = 32;
/// k per step of the subgroup kernel: one element of A per invocation and row.
const SUBGROUP_DEPTH: u32 = SUBGROUP_LANES;

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

/// WGSL that widens packed float16 exactly, without branches: `h2f` one value (the low 16 bits
/// of a `u32`), `h2f4` four. A normal number widens by one integer add (the exponent rebiased
/// from 15 to 127, the mantissa shifted into place), an infinity or NaN by a second, and a zero
/// or subnormal as its mantissa times 2⁻²⁴ in float32 (exact: an integer below 1024 times a power
/// of two, with a result float32 holds as a normal number, so no flush can touch it). It replaced
/// the casts' branching `f16_to_f32` per element: on Dawn on the H100 the portable kernels ran
/// packed float16 5–30% faster with it (bench/RESULTS.md).
const PACKED_F16: &str = "
fn h2f4(h: vec4<u32>) -> vec4<f32> {
    let em = h & vec4<u32>(0x7fffu);
    var bits = (em << vec4<u32>(13u)) + vec4<u32>(0x38000000u);
    bits = select(bits, bits + vec4<u32>(0x38000000u), em >= vec4<u32>(0x7c00u));
    let small = bitcast<vec4<u32>>(vec4<f32>(em) * 5.9604644775390625e-8);
    bits = select(bits, small, em < vec4<u32>(0x400u));
    return bitcast<vec4<f32>>(((h & vec4<u32>(0x8000u)) << vec4<u32>(16u)) | bits);
}
fn h2f(h: u32) -> f32 {
    let em = h & 0x7fffu;
    var bits = (em << 13u) + 0x38000000u;
    bits = select(bits, bits + 0x38000000u, em >= 0x7c00u);
    bits = select(bits, bitcast<u32>(f32(em) * 5.9604644775390625e-8), em < 0x400u);
    return bitcast<f32>(((h & 0x8000u) << 16u) | bits);
}
";

impl MatmulInput {
    /// What a kernel for this input needs before its declarations: the `f16` extension, or the
    /// packed float16 conversions its loads call.
    fn prelude(self) -> &'static str {
        match self {
            MatmulInput::F16 | MatmulInput::F16Math => "enable f16;\n",
            MatmulInput::F16Packed => PACKED_F16,
            MatmulInput::F32 | MatmulInput::BF16 => "",
        }
    }

    /// The WGSL type an input array holds: one element, or (`vector`) four (16-bit types packed
    /// two to a `u32`).
    fn storage(self, vector: bool) -> &'static str {
        match (self, vector) {
            (MatmulInput::F32, true) => "vec4<f32>",
            (MatmulInput::F32, false) => "f32",
            (MatmulInput::F16 | MatmulInput::F16Math, true) => "vec4<f16>",
            (MatmulInput::F16 | MatmulInput::F16Math, false) => "f16",
            (_, true) => "vec2<u32>",
            (_, false) => "u32",
        }
    }

    /// The body of a WGSL function of `i` that returns element `i` of array `x`, or (`vector`)
    /// the four elements at vec4 index `i`, widened to float32 unless float16 arithmetic is
    /// allowed.
    fn load_body(self, x: &str, vector: bool) -> String {
        match (self, vector) {
            (MatmulInput::F32 | MatmulInput::F16Math, _) => format!("return {x}[i];"),
            (MatmulInput::F16, true) => format!("return vec4<f32>({x}[i]);"),
            (MatmulInput::F16, false) => format!("return f32({x}[i]);"),
            (MatmulInput::F16Packed, true) => format!(
                "let w = {x}[i]; return h2f4(vec4<u32>(w.x & 0xffffu, w.x >> 16u, w.y & 0xffffu, w.y >> 16u));"
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
        }
    }
}

/// The WGSL of one variant.
pub(crate) fn source(input: MatmulInput, tiles: MatmulTiles, vector: bool) -> String {
    let MatmulTiles {
        rows, cols, depth, ..
    } = tiles;
    let (bm, bn) = (tiles.block_rows(), tiles.block_cols());
    let mut s = String::new();
    let half = input == MatmulInput::F16Math;
    s.push_str(input.prelude());
    // The type of the shared tiles, the prefetch registers and the products.
    let t = if half { "f16" } else { "f32" };
    let elem = input.storage(vector);
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
        let body = input.load_body(x, vector);
        let (name, ret) = if vector {
            (format!("load_{x}4"), format!("vec4<{t}>"))
        } else {
            (format!("load_{x}"), t.to_string())
        };
        let _ = writeln!(s, "fn {name}(i: u32) -> {ret} {{ {body} }}");
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

/// The WGSL of the subgroup kernel with `rows` rows per invocation, for float32 or float16
/// (`shader-f16`) inputs; n a multiple of 4 (see [`MatmulTiles`]).
///
/// Invocation `flat` sits in logical row `flat / 32` at position `flat % 32`. The kernel relies
/// on subgroups being aligned runs of `local_invocation_index` (lane = `flat % subgroup_size`),
/// as every implementation lays out a one-dimensional workgroup (ONNX Runtime Web's subgroup
/// matmul relies on the same). With 32-wide subgroups (NVIDIA, many Intel and Apple GPUs) a
/// logical row is a subgroup and A's elements travel by `subgroupBroadcast` from a constant
/// lane; other widths take a loop that shuffles within the row's part of the subgroup (64-wide:
/// half of it; narrower: the subgroup, loading A again per subgroup width).
///
/// float16 inputs are widened to float32 as they are loaded (`MatmulInput::F16`), or, with
/// float16 arithmetic allowed (`MatmulInput::F16Math`), stay float16: two rows' elements of A
/// travel in one `vec2<f16>`, the products of each 32-k step are summed in float16 and added
/// into float32 accumulators between steps. Packed inputs (bfloat16, and float16 without
/// `shader-f16`: two to a `u32`) are widened by integer operations as they are loaded, as the
/// portable kernels widen them. For bfloat16 that is a shift and costs little; packed float16
/// ran slower here than in the portable kernels on the H100, for reasons not found, so only a
/// fixed shape sends it here (`tuning::subgroups_allowed`).
pub(crate) fn subgroup_source(input: MatmulInput, rows: u32) -> String {
    let lanes = SUBGROUP_LANES;
    let depth = SUBGROUP_DEPTH;
    let block_rows = SUBGROUP_ROWS * rows;
    let half = input == MatmulInput::F16Math;
    // The type B's slice is held in and the products are computed in.
    let t = if half { "f16" } else { "f32" };
    let mut s = String::new();
    s.push_str(crate::platform::WGSL_ENABLE_SUBGROUPS);
    s.push_str(input.prelude());
    // A is read one element at a time, B four columns at a time.
    let (a_elem, b_elem) = (input.storage(false), input.storage(true));
    let (a_body, b_body) = (input.load_body("a", false), input.load_body("b", true));
    let _ = write!(
        s,
        "struct Params {{ m: u32, n: u32, k: u32, a_batch: u32, b_batch: u32, c_batch: u32 }}
@group(0) @binding(0) var<storage, read> a: array<{a_elem}>;
@group(0) @binding(1) var<storage, read> b: array<{b_elem}>;
@group(0) @binding(2) var<storage, read_write> c: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> p: Params;
var<workgroup> tile_b: array<vec4<{t}>, {tile}>;

// A's element i, and B's four columns at vec4 index i, in the products' type.
fn load_a1(i: u32) -> {t} {{ {a_body} }}
fn load_b4(i: u32) -> vec4<{t}> {{ {b_body} }}

// Element (r, kk) of A, 0 outside it.
fn load_a(base: u32, r: u32, kk: u32) -> {t} {{
    if (r < p.m && kk < p.k) {{ return load_a1(base + r * p.k + kk); }}
    return {t}(0.0);
}}

@compute @workgroup_size(256, 1, 1)
fn main(
    @builtin(workgroup_id) group: vec3<u32>,
    @builtin(local_invocation_index) flat: u32,
    @builtin(subgroup_size) sg_size: u32,
    @builtin(subgroup_invocation_id) lane: u32,
) {{
    let batch = group.z;
    let col = flat % {lanes}u;
    let ty = flat / {lanes}u;
    let row0 = group.y * {block_rows}u + ty * {rows}u;
    let n4 = p.n / 4u;
    let c4 = group.x * {lanes}u + col;
    let a_base = batch * p.a_batch;
    let b_base = batch * (p.b_batch / 4u);
",
        tile = depth * lanes,
    );
    // What travels between lanes: one element per row, or (float16 arithmetic) a pair of rows'.
    let (carriers, carrier_type) = if half {
        (rows / 2, "vec2<f16>")
    } else {
        (rows, t)
    };
    let carrier = |g: u32, at: &str| {
        if half {
            format!(
                "vec2<f16>(load_a(a_base, row0 + {r0}u, {at}), load_a(a_base, row0 + {r1}u, {at}))",
                r0 = 2 * g,
                r1 = 2 * g + 1
            )
        } else {
            format!("load_a(a_base, row0 + {g}u, {at})")
        }
    };
    // Products of carrier g's value, as the subgroup operation `x` delivers it (once, also when
    // it carries two rows), with B's `bv`, into the row sums.
    let multiply = |g: u32, x: &str| {
        if half {
            format!(
                "{{ let x = {x}; part{r0} += x.x * bv; part{r1} += x.y * bv; }}",
                r0 = 2 * g,
                r1 = 2 * g + 1
            )
        } else {
            format!("acc{g} += {x} * bv;")
        }
    };
    for r in 0..rows {
        let _ = writeln!(s, "    var acc{r} = vec4<f32>();");
        if half {
            let _ = writeln!(s, "    var part{r} = vec4<f16>();");
        }
    }
    for g in 0..carriers {
        let _ = writeln!(s, "    var a{g}: {carrier_type};");
    }
    let _ = writeln!(s, "    for (var t = 0u; t < p.k; t += {depth}u) {{");
    // B's slice: depth rows of 32 four-column groups, 256 invocations storing depth / 8 each.
    for e in 0..depth / SUBGROUP_ROWS {
        let _ = writeln!(
            s,
            "        {{ let kr = ty + {o}u; let kb = t + kr; var v = vec4<{t}>(); if (kb < p.k && c4 < n4) {{ v = load_b4(b_base + kb * n4 + c4); }} tile_b[kr * {lanes}u + col] = v; }}",
            o = e * SUBGROUP_ROWS
        );
    }
    // A's elements for 32-wide subgroups (the other path loads its own), then the barrier
    // outside the branch, where uniformity is plain.
    for g in 0..carriers {
        let _ = writeln!(s, "        a{g} = {};", carrier(g, "t + col"));
    }
    let _ = writeln!(
        s,
        "        workgroupBarrier();\n        if (sg_size == {lanes}u) {{"
    );
    for kk in 0..depth {
        let _ = writeln!(
            s,
            "            {{ let bv = tile_b[{o}u + col];",
            o = kk * lanes
        );
        for g in 0..carriers {
            let x = format!("subgroupBroadcast(a{g}, {kk}u)");
            let _ = writeln!(s, "                {}", multiply(g, &x));
        }
        let _ = writeln!(s, "            }}");
    }
    let _ = writeln!(
        s,
        "        }} else {{
            // The row's elements of A live in `chunk` consecutive lanes from `first`.
            let chunk = min(sg_size, {lanes}u);
            let first = lane & ~(chunk - 1u);
            for (var c0 = 0u; c0 < {depth}u; c0 += chunk) {{"
    );
    for g in 0..carriers {
        let _ = writeln!(
            s,
            "                a{g} = {};",
            carrier(g, "t + c0 + col % chunk")
        );
    }
    let _ = writeln!(
        s,
        "                for (var j = 0u; j < chunk; j++) {{
                    let bv = tile_b[(c0 + j) * {lanes}u + col];"
    );
    for g in 0..carriers {
        let x = format!("subgroupShuffle(a{g}, first + j)");
        let _ = writeln!(s, "                    {}", multiply(g, &x));
    }
    let _ = writeln!(
        s,
        "                }}
            }}
        }}"
    );
    if half {
        // The step's float16 sums join the float32 accumulators.
        for r in 0..rows {
            let _ = writeln!(
                s,
                "        acc{r} += vec4<f32>(part{r}); part{r} = vec4<f16>();"
            );
        }
    }
    let _ = writeln!(
        s,
        "        workgroupBarrier();
    }}
    let c_base = batch * (p.c_batch / 4u);
    if (c4 < n4) {{"
    );
    for r in 0..rows {
        let _ = writeln!(
            s,
            "        if (row0 + {r}u < p.m) {{ c[c_base + (row0 + {r}u) * n4 + c4] = acc{r}; }}"
        );
    }
    s.push_str("    }\n}\n");
    s
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use wgpu::naga;

    /// Parse and validate WGSL as wgpu does before any driver sees it.
    fn validate(source: &str) -> Result<(), String> {
        let module = naga::front::wgsl::parse_str(source).map_err(|e| e.emit_to_string(source))?;
        naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::all(),
        )
        .subgroup_stages(naga::valid::ShaderStages::COMPUTE)
        .subgroup_operations(naga::valid::SubgroupOperationSet::all())
        .validate(&module)
        .map(|_| ())
        .map_err(|e| e.emit_to_string(source))
    }

    const INPUTS: [MatmulInput; 5] = [
        MatmulInput::F32,
        MatmulInput::F16,
        MatmulInput::F16Math,
        MatmulInput::F16Packed,
        MatmulInput::BF16,
    ];

    #[test]
    fn every_generated_variant_is_valid_wgsl() {
        for tiles in MatmulTiles::ALL {
            if tiles.subgroups {
                for input in INPUTS {
                    let source = subgroup_source(input, tiles.rows);
                    validate(&source).unwrap_or_else(|e| panic!("{tiles} {input:?}: {e}"));
                }
                continue;
            }
            for input in INPUTS {
                for vector in [false, true] {
                    let source = source(input, tiles, vector);
                    validate(&source).unwrap_or_else(|e| panic!("{tiles} {input:?} {vector}: {e}"));
                }
            }
        }
    }
}
