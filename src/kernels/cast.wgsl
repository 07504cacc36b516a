// Casts between float32 (0), float16 (1), bfloat16 (2) and int32 (3), on 32-bit words and integer
// bit operations only: no shader-f16, no float arithmetic, so every adapter gives the same bits
// as the `half` crate and IEEE round-to-nearest-even (subnormals kept, NaN stays a quiet NaN).
// 16-bit tensors are packed two to a word, element 2k in the low half. The entry points are in
// cast_words.wgsl (one output word per invocation, any length) and cast_vec4.wgsl (16 output
// bytes per invocation, for lengths that are multiples of 8 elements).

override SRC: u32 = 0u;
override DST: u32 = 0u;

// Truncates toward zero and saturates; NaN becomes 0 (as Rust's `as i32`).
fn f32_to_i32(x: u32) -> u32 {
    let exp = (x >> 23u) & 0xffu;
    let man = x & 0x7fffffu;
    let negative = (x >> 31u) == 1u;
    if (exp == 0xffu && man != 0u) {
        return 0u;
    }
    if (exp < 127u) {
        return 0u;
    }
    if (exp >= 158u) {
        if (negative) {
            return 0x80000000u;
        }
        return 0x7fffffffu;
    }
    let m = man | 0x800000u;
    var magnitude: u32;
    if (exp >= 150u) {
        magnitude = m << (exp - 150u);
    } else {
        magnitude = m >> (150u - exp);
    }
    if (negative) {
        return ~magnitude + 1u;
    }
    return magnitude;
}

// An int32 rounded once, to nearest even, to a float with `m_bits` mantissa bits, exponent bias
// `bias` and all-ones exponent `max_exp`; the sign goes to bit `sign_bit`.
fn i32_to_float(v: u32, m_bits: u32, bias: u32, max_exp: u32, sign_bit: u32) -> u32 {
    if (v == 0u) {
        return 0u;
    }
    let negative = (v >> 31u) == 1u;
    var magnitude = v;
    if (negative) {
        magnitude = ~v + 1u;
    }
    let p = firstLeadingBit(magnitude);
    let e = p + bias;
    var out: u32;
    if (e >= max_exp) {
        out = max_exp << m_bits;
    } else if (p <= m_bits) {
        out = (e << m_bits) | ((magnitude << (m_bits - p)) & ((1u << m_bits) - 1u));
    } else {
        let shift = p - m_bits;
        let kept = magnitude >> shift;
        let rest = magnitude & ((1u << shift) - 1u);
        let halfway = 1u << (shift - 1u);
        var rounded = kept;
        if (rest > halfway || (rest == halfway && (kept & 1u) == 1u)) {
            rounded += 1u;
        }
        // The significand's leading 1 lands on the exponent field: (e - 1) + 1 = e, and a carry
        // out of the mantissa bumps the exponent.
        out = ((e - 1u) << m_bits) + rounded;
        if (out >= (max_exp << m_bits)) {
            out = max_exp << m_bits;
        }
    }
    if (negative) {
        out |= 1u << sign_bit;
    }
    return out;
}

fn convert(raw: u32) -> u32 {
    if (SRC == 3u) {
        switch DST {
            case 0u: { return i32_to_float(raw, 23u, 127u, 255u, 31u); }
            case 1u: { return i32_to_float(raw, 10u, 15u, 31u, 15u); }
            case 2u: { return i32_to_float(raw, 7u, 127u, 255u, 15u); }
            default: { return raw; }
        }
    }
    var f = raw;
    if (SRC == 1u) {
        f = f16_to_f32(raw);
    } else if (SRC == 2u) {
        f = bf16_to_f32(raw);
    }
    switch DST {
        case 1u: { return f32_to_f16(f); }
        case 2u: { return f32_to_bf16(f); }
        case 3u: { return f32_to_i32(f); }
        default: { return f; }
    }
}
