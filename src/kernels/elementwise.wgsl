// Elementwise ops on float32 (TYPE 0) or int32 (TYPE 3) with NumPy broadcasting.
// OP: 0 add, 1 sub, 2 mul, 3 div, 4 relu (unary). MODE: 0 same shapes (direct index),
// 1 broadcast (index through strides, 0 for broadcast dimensions), 2 scalar right operand,
// 3 scalar left operand (the scalar's bits are in the params).
// The word types W (bits), WI (int32) and WF (float32) and WIDTH (elements per word) are
// declared ahead of this source: one element per invocation (u32), or four (vec4<u32>, modes
// 0, 2 and 3, for lengths that are multiples of 4) so each access moves 16 bytes.

override OP: u32 = 0u;
override TYPE: u32 = 0u;
override MODE: u32 = 0u;

struct Params {
    n: u32,
    rank: u32,
    scalar: u32,
    _pad: u32,
    shape: array<vec4<u32>, 2>,
    stride_a: array<vec4<u32>, 2>,
    stride_b: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<storage, read> a: array<W>;
@group(0) @binding(1) var<storage, read> b: array<W>;
@group(0) @binding(2) var<storage, read_write> c: array<W>;
@group(0) @binding(3) var<uniform> p: Params;

fn apply(x: W, y: W) -> W {
    if (TYPE == 3u) {
        let u = bitcast<WI>(x);
        let v = bitcast<WI>(y);
        switch OP {
            case 0u: { return bitcast<W>(u + v); }
            case 1u: { return bitcast<W>(u - v); }
            case 2u: { return bitcast<W>(u * v); }
            case 3u: { return bitcast<W>(u / v); }
            default: { return bitcast<W>(select(u, WI(0), u < WI(0))); }
        }
    }
    let u = bitcast<WF>(x);
    let v = bitcast<WF>(y);
    switch OP {
        case 0u: { return bitcast<W>(u + v); }
        case 1u: { return bitcast<W>(u - v); }
        case 2u: { return bitcast<W>(u * v); }
        case 3u: { return bitcast<W>(u / v); }
        // relu: negative values become +0; NaN and -0 pass through unchanged.
        default: { return select(x, W(0u), u < WF(0.0)); }
    }
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = gid.x + gid.y * groups.x * 256u;
    if (i >= p.n / WIDTH) {
        return;
    }
    if (OP == 4u) {
        c[i] = apply(a[i], W(0u));
        return;
    }
    switch MODE {
        case 0u: { c[i] = apply(a[i], b[i]); }
        case 2u: { c[i] = apply(a[i], W(p.scalar)); }
        case 3u: { c[i] = apply(W(p.scalar), a[i]); }
        default: {
            var rest = i;
            var ia = 0u;
            var ib = 0u;
            for (var d = i32(p.rank) - 1; d >= 0; d--) {
                let dim = u32(d);
                let extent = p.shape[dim / 4u][dim % 4u];
                let coord = rest % extent;
                rest = rest / extent;
                ia += coord * p.stride_a[dim / 4u][dim % 4u];
                ib += coord * p.stride_b[dim / 4u][dim % 4u];
            }
            c[i] = apply(a[ia], b[ib]);
        }
    }
}
