// Bit-exact conversions between fp32 and the two 16-bit storage types of capture files (IEEE binary16
// and bfloat16). Narrowing rounds to nearest, ties to even, as numpy and PyTorch do; we do it ourselves
// because HDF5's soft float conversion rounds ties away from zero and is slow. Widening is exact.
#pragma once

#include <bit>
#include <cstdint>

namespace attnscope::half {

inline float float16ToFloat(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    const uint32_t exponent = (h >> 10) & 0x1Fu;
    const uint32_t mantissa = h & 0x3FFu;
    if (exponent == 0x1Fu) {  // Inf or NaN: keep the payload
        return std::bit_cast<float>(sign | 0x7F800000u | (mantissa << 13));
    }
    if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24, exact in fp32
        const float magnitude = static_cast<float>(mantissa) * 5.9604644775390625e-8f;
        return sign != 0 ? -magnitude : magnitude;
    }
    return std::bit_cast<float>(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

inline uint16_t floatToFloat16(float value) {
    const uint32_t bits = std::bit_cast<uint32_t>(value);
    const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
    uint32_t magnitude = bits & 0x7FFFFFFFu;
    if (magnitude >= 0x7F800000u) {  // Inf, or NaN kept quiet with the top payload bits
        const uint32_t payload = magnitude > 0x7F800000u ? (0x200u | ((magnitude >> 13) & 0x3FFu)) : 0u;
        return static_cast<uint16_t>(sign | 0x7C00u | payload);
    }
    if (magnitude >= 0x477FF000u) {  // >= 65520: rounds to Inf (65504 has an odd mantissa)
        return static_cast<uint16_t>(sign | 0x7C00u);
    }
    if (magnitude >= 0x38800000u) {  // normal half (>= 2^-14)
        magnitude += 0xFFFu + ((magnitude >> 13) & 1u);  // round to nearest even; a carry bumps the exponent
        return static_cast<uint16_t>(sign | ((magnitude - (112u << 23)) >> 13));
    }
    if (magnitude < 0x33000000u) {  // below 2^-25 (half the smallest subnormal), or exactly zero
        return sign;
    }
    // Subnormal half: value / 2^-24 = significand >> (126 - exponent), rounded to nearest even.
    const uint32_t exponent = magnitude >> 23;
    const uint32_t significand = (magnitude & 0x7FFFFFu) | 0x800000u;
    const uint32_t shift = 126u - exponent;  // 14 .. 24
    uint32_t quotient = significand >> shift;
    const uint32_t remainder = significand & ((1u << shift) - 1u);
    const uint32_t halfway = 1u << (shift - 1u);
    if (remainder > halfway || (remainder == halfway && (quotient & 1u) != 0)) {
        ++quotient;  // may reach 0x400, which is the smallest normal: still the right encoding
    }
    return static_cast<uint16_t>(sign | quotient);
}

inline float bfloat16ToFloat(uint16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

inline uint16_t floatToBfloat16(float value) {
    const uint32_t bits = std::bit_cast<uint32_t>(value);
    if ((bits & 0x7FFFFFFFu) > 0x7F800000u) {  // NaN: truncate and force a quiet NaN
        return static_cast<uint16_t>((bits >> 16) | 0x0040u);
    }
    // Round to nearest even; overflow past the largest bf16 correctly carries into Inf.
    const uint32_t rounded = bits + 0x7FFFu + ((bits >> 16) & 1u);
    return static_cast<uint16_t>(rounded >> 16);
}

}  // namespace attnscope::half
