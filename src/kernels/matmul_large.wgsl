// The large-matrix variant of matmul.wgsl: a 128×128 output tile per workgroup of 16×16
// invocations, each accumulating an 8×8 register block (rows 4y..4y+3 and 64+4y..64+4y+3,
// columns likewise), k in steps of 8. Twice the arithmetic per workgroup-memory read of the
// 64×64 variant. Chosen (ops.rs) when the product has at least LARGE_MATMUL_TILES (512) 128×128
// output tiles, or on a CPU device when both m and n are at least 256. Same params, inputs and
// output.

const TK: u32 = 8u;

var<workgroup> tile_a: array<vec4<f32>, 256>; // [kk][i / 4], TK × 128
var<workgroup> tile_b: array<vec4<f32>, 256>; // [kk][j / 4], TK × 128

@compute @workgroup_size(16, 16, 1)
fn main(
    @builtin(workgroup_id) group: vec3<u32>,
    @builtin(local_invocation_id) local: vec3<u32>,
    @builtin(local_invocation_index) flat: u32,
) {
    let batch = group.z;
    let row0 = group.y * 128u;
    let col0 = group.x * 128u;
    let a_base = batch * p.a_batch;
    let b_base = batch * p.b_batch;
    var acc00 = vec4<f32>();
    var acc01 = vec4<f32>();
    var acc10 = vec4<f32>();
    var acc11 = vec4<f32>();
    var acc20 = vec4<f32>();
    var acc21 = vec4<f32>();
    var acc30 = vec4<f32>();
    var acc31 = vec4<f32>();
    var acc40 = vec4<f32>();
    var acc41 = vec4<f32>();
    var acc50 = vec4<f32>();
    var acc51 = vec4<f32>();
    var acc60 = vec4<f32>();
    var acc61 = vec4<f32>();
    var acc70 = vec4<f32>();
    var acc71 = vec4<f32>();
    for (var t = 0u; t < p.k; t += TK) {
        for (var e = 0u; e < 4u; e++) {
            let idx = flat + e * 256u;
            let i = idx / TK;
            let kk = idx % TK;
            let r = row0 + i;
            let kc = t + kk;
            var va = 0.0;
            if (r < p.m && kc < p.k) {
                va = load_a(a_base + r * p.k + kc);
            }
            tile_a[kk * 32u + i / 4u][i % 4u] = va;
            let kr = idx / 128u;
            let j = idx % 128u;
            let kb = t + kr;
            let cc = col0 + j;
            var vb = 0.0;
            if (kb < p.k && cc < p.n) {
                vb = load_b(b_base + kb * p.n + cc);
            }
            tile_b[kr * 32u + j / 4u][j % 4u] = vb;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TK; kk++) {
            let a_lo = tile_a[kk * 32u + local.y];
            let a_hi = tile_a[kk * 32u + 16u + local.y];
            let b_lo = tile_b[kk * 32u + local.x];
            let b_hi = tile_b[kk * 32u + 16u + local.x];
            acc00 += a_lo.x * b_lo;
            acc01 += a_lo.x * b_hi;
            acc10 += a_lo.y * b_lo;
            acc11 += a_lo.y * b_hi;
            acc20 += a_lo.z * b_lo;
            acc21 += a_lo.z * b_hi;
            acc30 += a_lo.w * b_lo;
            acc31 += a_lo.w * b_hi;
            acc40 += a_hi.x * b_lo;
            acc41 += a_hi.x * b_hi;
            acc50 += a_hi.y * b_lo;
            acc51 += a_hi.y * b_hi;
            acc60 += a_hi.z * b_lo;
            acc61 += a_hi.z * b_hi;
            acc70 += a_hi.w * b_lo;
            acc71 += a_hi.w * b_hi;
        }
        workgroupBarrier();
    }
    let c_base = batch * p.c_batch;
    let r0 = row0 + local.y * 4u;
    let c0 = col0 + local.x * 4u;
    store4(c_base, r0 + 0u, c0, acc00);
    store4(c_base, r0 + 0u, c0 + 64u, acc01);
    store4(c_base, r0 + 1u, c0, acc10);
    store4(c_base, r0 + 1u, c0 + 64u, acc11);
    store4(c_base, r0 + 2u, c0, acc20);
    store4(c_base, r0 + 2u, c0 + 64u, acc21);
    store4(c_base, r0 + 3u, c0, acc30);
    store4(c_base, r0 + 3u, c0 + 64u, acc31);
    store4(c_base, r0 + 64u, c0, acc40);
    store4(c_base, r0 + 64u, c0 + 64u, acc41);
    store4(c_base, r0 + 65u, c0, acc50);
    store4(c_base, r0 + 65u, c0 + 64u, acc51);
    store4(c_base, r0 + 66u, c0, acc60);
    store4(c_base, r0 + 66u, c0 + 64u, acc61);
    store4(c_base, r0 + 67u, c0, acc70);
    store4(c_base, r0 + 67u, c0 + 64u, acc71);
}
