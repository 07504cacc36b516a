// One output word per invocation, any length; sizes come from arrayLength.

@group(0) @binding(0) var<storage, read> src: array<u32>;
@group(0) @binding(1) var<storage, read_write> dst: array<u32>;

fn load(i: u32) -> u32 {
    if (SRC == 1u || SRC == 2u) {
        return (src[i >> 1u] >> ((i & 1u) * 16u)) & 0xffffu;
    }
    return src[i];
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = gid.x + gid.y * groups.x * 256u;
    if (i >= arrayLength(&dst)) {
        return;
    }
    if (DST == 1u || DST == 2u) {
        var elements = arrayLength(&src);
        if (SRC == 1u || SRC == 2u) {
            elements = elements * 2u;
        }
        let low = convert(load(2u * i));
        var high = 0u;
        if (2u * i + 1u < elements) {
            high = convert(load(2u * i + 1u));
        }
        dst[i] = low | (high << 16u);
    } else {
        dst[i] = convert(load(i));
    }
}
