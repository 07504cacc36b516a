// C[b] = A[b] × B[b] with f32 accumulation. A is m×k, B is k×n, C is m×n, row-major; a batch
// stride of 0 broadcasts a 2-D operand over the batch. Inputs are float32, float16 or bfloat16
// (IN: 0, 1, 2; 16-bit inputs packed two to a word and widened exactly while loading into
// workgroup memory), the output is float32.
//
// A 64×64 output tile per workgroup of 16×16 invocations, each accumulating a 4×4 register
// block; k advances in steps of 16 through workgroup-shared tiles. Any m, n, k: loads outside
// the matrices read zeros and stores outside are skipped.

const TM: u32 = 64u;
const TN: u32 = 64u;
const TK: u32 = 16u;

// Stored as vec4s so each invocation reads its 4 rows / 4 columns in one 16-byte access.
var<workgroup> tile_a: array<vec4<f32>, 256>; // [kk][i / 4], TK × TM
var<workgroup> tile_b: array<vec4<f32>, 256>; // [kk][j / 4], TK × TN

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
    // Four accumulator rows in registers (a dynamically indexed array could spill to memory).
    var acc0 = vec4<f32>();
    var acc1 = vec4<f32>();
    var acc2 = vec4<f32>();
    var acc3 = vec4<f32>();
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
            tile_a[kk * 16u + i / 4u][i % 4u] = va;
            // B: 16 rows of k × 64 columns; consecutive invocations read consecutive columns.
            let kr = idx / TN;
            let j = idx % TN;
            let kb = t + kr;
            let cc = col0 + j;
            var vb = 0.0;
            if (kb < p.k && cc < p.n) {
                vb = load_b(b_base + kb * p.n + cc);
            }
            tile_b[kr * 16u + j / 4u][j % 4u] = vb;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TK; kk++) {
            let av = tile_a[kk * 16u + local.y];
            let bv = tile_b[kk * 16u + local.x];
            acc0 += av.x * bv;
            acc1 += av.y * bv;
            acc2 += av.z * bv;
            acc3 += av.w * bv;
        }
        workgroupBarrier();
    }
    let c_base = batch * p.c_batch;
    let r = row0 + local.y * 4u;
    let cc = col0 + local.x * 4u;
    store4(c_base, r, cc, acc0);
    store4(c_base, r + 1u, cc, acc1);
    store4(c_base, r + 2u, cc, acc2);
    store4(c_base, r + 3u, cc, acc3);
}
