// What both matmul variants share: the specialisation constant, params, bindings, loads that
// widen 16-bit inputs exactly, and the bounds-checked store of four output columns.

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

// Store four consecutive output columns of row r (skipping what lies outside C).
fn store4(base: u32, r: u32, cc: u32, v: vec4<f32>) {
    if (r >= p.m) {
        return;
    }
    let at = base + r * p.n + cc;
    if (cc + 3u < p.n) {
        c[at] = v.x;
        c[at + 1u] = v.y;
        c[at + 2u] = v.z;
        c[at + 3u] = v.w;
        return;
    }
    for (var j = 0u; j < 4u; j++) {
        if (cc + j < p.n) {
            c[at + j] = v[j];
        }
    }
}
