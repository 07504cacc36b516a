// Bit-exact float16/bfloat16 <-> float32 conversions on 32-bit words (shared by the kernels).

fn f16_to_f32(h: u32) -> u32 {
    let sign = (h & 0x8000u) << 16u;
    let exp = h & 0x7c00u;
    let man = h & 0x03ffu;
    if ((h & 0x7fffu) == 0u) {
        return sign;
    }
    if (exp == 0x7c00u) {
        if (man == 0u) {
            return sign | 0x7f800000u;
        }
        return sign | 0x7fc00000u | (man << 13u);
    }
    if (exp == 0u) {
        // Subnormal: normalise (e = leading zeros within the 10-bit mantissa).
        let e = countLeadingZeros(man) - 22u;
        return sign | ((112u - e) << 23u) | ((man << (14u + e)) & 0x7fffffu);
    }
    return sign | (((exp >> 10u) + 112u) << 23u) | (man << 13u);
}

fn bf16_to_f32(b: u32) -> u32 {
    if ((b & 0x7fffu) > 0x7f80u) {
        return (b | 0x40u) << 16u;
    }
    return b << 16u;
}

fn f32_to_f16(x: u32) -> u32 {
    let sign = (x >> 16u) & 0x8000u;
    let exp = x & 0x7f800000u;
    let man = x & 0x007fffffu;
    if (exp == 0x7f800000u) {
        var nan_bit = 0u;
        if (man != 0u) {
            nan_bit = 0x0200u;
        }
        return sign | 0x7c00u | nan_bit | (man >> 13u);
    }
    let half_exp = i32(exp >> 23u) - 112;
    if (half_exp >= 31) {
        return sign | 0x7c00u;
    }
    if (half_exp <= 0) {
        if (14 - half_exp > 24) {
            return sign;
        }
        let m = man | 0x00800000u;
        let shift = u32(14 - half_exp);
        var half_man = m >> shift;
        let round_bit = 1u << (shift - 1u);
        if ((m & round_bit) != 0u && (m & (3u * round_bit - 1u)) != 0u) {
            half_man += 1u;
        }
        return sign | half_man;
    }
    let bits = sign | (u32(half_exp) << 10u) | (man >> 13u);
    if ((man & 0x1000u) != 0u && (man & 0x2fffu) != 0u) {
        return bits + 1u;
    }
    return bits;
}

fn f32_to_bf16(x: u32) -> u32 {
    if ((x & 0x7fffffffu) > 0x7f800000u) {
        return (x >> 16u) | 0x40u;
    }
    if ((x & 0x8000u) != 0u && (x & 0x17fffu) != 0u) {
        return (x >> 16u) + 1u;
    }
    return x >> 16u;
}

