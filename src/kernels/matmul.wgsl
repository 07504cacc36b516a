// C[b] = A[b] × B[b] with f32 accumulation. A is m×k, B is k×n, C is m×n, row-major; a batch
// stride of 0 broadcasts a 2-D operand over the batch. Inputs are float32, float16 or bfloat16
// (IN: 0, 1, 2; 16-bit inputs packed two to a word and widened exactly while loading into
// workgroup memory), the output is float32.
//
// A 64×64 output tile per workgroup of 16×16 invocations, each accumulating a 4×4 register
// block; k advances in steps of 16 through workgroup-shared tiles. Any m, n, k: loads outside
// the matrices read zeros and stores outside are skipped.

override IN: u32 = 0u;

struct Params {
    m: u32,
    n: u32,
    k: u32,
    a_batch: u32,
    b_batch: u32,
    c_batch: u32,
}

@group(0) @binding(0) var<storage, read> a: array<u32>;
@group(0) @binding(1) var<storage, read> b: array<u32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

const TM: u32 = 64u;
const TN: u32 = 64u;
const TK: u32 = 16u;

var<workgroup> tile_a: array<f32, 1024>; // [kk][i], TK × TM
var<workgroup> tile_b: array<f32, 1024>; // [kk][j], TK × TN

fn widen(word: u32, index: u32) -> f32 {
    let h = (word >> ((index & 1u) * 16u)) & 0xffffu;
    if (IN == 1u) {
        return bitcast<f32>(f16_to_f32(h));
    }
    return bitcast<f32>(h << 16u);
}

fn load_a(index: u32) -> f32 {
    if (IN == 0u) {
        return bitcast<f32>(a[index]);
    }
    return widen(a[index >> 1u], index);
}

fn load_b(index: u32) -> f32 {
    if (IN == 0u) {
        return bitcast<f32>(b[index]);
    }
    return widen(b[index >> 1u], index);
}

@compute @workgroup_size(16, 16, 1)
fn main(
    @builtin(workgroup_id) group: vec3<u32>,
    @builtin(local_invocation_id) local: vec3<u32>,
    @builtin(local_invocation_index) flat: u32,
) {
    let batch = group.z;
    let row0 = group.y * TM;
    let col0 = group.x * TN;
    let a_base = batch * p.a_batch;
    let b_base = batch * p.b_batch;
    var acc: array<f32, 16>;
    for (var t = 0u; t < p.k; t += TK) {
        for (var e = 0u; e < 4u; e++) {
            let idx = flat + e * 256u;
            // A: 64 rows × 16 columns of k; consecutive invocations read consecutive k.
            let i = idx / TK;
            let kk = idx % TK;
            let r = row0 + i;
            let kc = t + kk;
            var va = 0.0;
            if (r < p.m && kc < p.k) {
                va = load_a(a_base + r * p.k + kc);
            }
            tile_a[kk * TM + i] = va;
            // B: 16 rows of k × 64 columns; consecutive invocations read consecutive columns.
            let kr = idx / TN;
            let j = idx % TN;
            let kb = t + kr;
            let cc = col0 + j;
            var vb = 0.0;
            if (kb < p.k && cc < p.n) {
                vb = load_b(b_base + kb * p.n + cc);
            }
            tile_b[kr * TN + j] = vb;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TK; kk++) {
            let ar = kk * TM + local.y * 4u;
            let bc = kk * TN + local.x * 4u;
            let av = vec4<f32>(tile_a[ar], tile_a[ar + 1u], tile_a[ar + 2u], tile_a[ar + 3u]);
            let bv = vec4<f32>(tile_b[bc], tile_b[bc + 1u], tile_b[bc + 2u], tile_b[bc + 3u]);
            for (var i = 0u; i < 4u; i++) {
                acc[i * 4u] += av[i] * bv.x;
                acc[i * 4u + 1u] += av[i] * bv.y;
                acc[i * 4u + 2u] += av[i] * bv.z;
                acc[i * 4u + 3u] += av[i] * bv.w;
            }
        }
        workgroupBarrier();
    }
    let c_base = batch * p.c_batch;
    for (var i = 0u; i < 4u; i++) {
        let r = row0 + local.y * 4u + i;
        if (r >= p.m) {
            break;
        }
        for (var j = 0u; j < 4u; j++) {
            let cc = col0 + local.x * 4u + j;
            if (cc < p.n) {
                c[c_base + r * p.n + cc] = acc[i * 4u + j];
            }
        }
    }
}
