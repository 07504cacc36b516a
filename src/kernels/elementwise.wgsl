// Elementwise ops on float32 (TYPE 0) or int32 (TYPE 3) with NumPy broadcasting.
// OP: 0 add, 1 sub, 2 mul, 3 div, 4 relu (unary). MODE: 0 same shapes (direct index),
// 1 broadcast (index through strides, 0 for broadcast dimensions), 2 scalar right operand,
// 3 scalar left operand (the scalar's bits are in the params).

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

@group(0) @binding(0) var<storage, read> a: array<u32>;
@group(0) @binding(1) var<storage, read> b: array<u32>;
@group(0) @binding(2) var<storage, read_write> c: array<u32>;
@group(0) @binding(3) var<uniform> p: Params;

fn apply(x: u32, y: u32) -> u32 {
    if (TYPE == 3u) {
        let u = bitcast<i32>(x);
        let v = bitcast<i32>(y);
        switch OP {
            case 0u: { return bitcast<u32>(u + v); }
            case 1u: { return bitcast<u32>(u - v); }
            case 2u: { return bitcast<u32>(u * v); }
            case 3u: { return bitcast<u32>(u / v); }
            default: { return bitcast<u32>(select(u, 0, u < 0)); }
        }
    }
    let u = bitcast<f32>(x);
    let v = bitcast<f32>(y);
    switch OP {
        case 0u: { return bitcast<u32>(u + v); }
        case 1u: { return bitcast<u32>(u - v); }
        case 2u: { return bitcast<u32>(u * v); }
        case 3u: { return bitcast<u32>(u / v); }
        // relu: negative values become +0; NaN and -0 pass through unchanged.
        default: { return select(x, 0u, u < 0.0); }
    }
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = gid.x + gid.y * groups.x * 256u;
    if (i >= p.n) {
        return;
    }
    if (OP == 4u) {
        c[i] = apply(a[i], 0u);
        return;
    }
    switch MODE {
        case 0u: { c[i] = apply(a[i], b[i]); }
        case 2u: { c[i] = apply(a[i], p.scalar); }
        case 3u: { c[i] = apply(p.scalar, a[i]); }
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
