// 16 output bytes per invocation: 8 elements into a 16-bit dtype, 4 into a 32-bit one. Used where
// the length is a multiple of 8 elements, so every vec4 is whole on both sides.

@group(0) @binding(0) var<storage, read> src: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<u32>>;

// Two 16-bit elements of one source word, converted and packed into one output word.
fn pair16(w: u32) -> u32 {
    return convert(w & 0xffffu) | (convert(w >> 16u) << 16u);
}

// Two 32-bit source elements, converted to 16 bits and packed into one output word.
fn pair32(lo: u32, hi: u32) -> u32 {
    return convert(lo) | (convert(hi) << 16u);
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = gid.x + gid.y * groups.x * 256u;
    if (i >= arrayLength(&dst)) {
        return;
    }
    let narrow_src = SRC == 1u || SRC == 2u;
    if (DST == 1u || DST == 2u) {
        if (narrow_src) {
            let w = src[i];
            dst[i] = vec4<u32>(pair16(w.x), pair16(w.y), pair16(w.z), pair16(w.w));
        } else {
            let w0 = src[2u * i];
            let w1 = src[2u * i + 1u];
            dst[i] = vec4<u32>(pair32(w0.x, w0.y), pair32(w0.z, w0.w), pair32(w1.x, w1.y), pair32(w1.z, w1.w));
        }
    } else if (narrow_src) {
        let w = src[i / 2u];
        var h = w.xy;
        if ((i & 1u) == 1u) {
            h = w.zw;
        }
        dst[i] = vec4<u32>(convert(h.x & 0xffffu), convert(h.x >> 16u), convert(h.y & 0xffffu), convert(h.y >> 16u));
    } else {
        let w = src[i];
        dst[i] = vec4<u32>(convert(w.x), convert(w.y), convert(w.z), convert(w.w));
    }
}
