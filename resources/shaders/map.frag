// Map colors: the pooled value of each texel through core's ValueScale and colormap table, so the
// GUI and attnscope-cli agree (colormap.cpp is the reference; keep in sync with it).
#version 450

layout(set = 0, binding = 0) uniform sampler2D values;   // R32F pooled tile, NaN = no visible cell
layout(set = 0, binding = 1) uniform sampler2D colormaps; // 256 x 4 RGBA8, one row per ColormapName

layout(push_constant) uniform Push {
    vec4 rect;
    vec4 scale;     // maxValue, decades, colormap row, mode
    vec4 flags;     // logarithmic, signed, framebuffer width, framebuffer height
} pc;

layout(location = 0) in vec2 uv;
layout(location = 0) out vec4 color;

float normalizeValue(float v) {
    float maxValue = pc.scale.x;
    float decades = pc.scale.y;
    bool logarithmic = pc.flags.x > 0.5;
    if (pc.flags.y > 0.5) {
        if (maxValue <= 0.0) return 0.5;
        if (logarithmic) {
            float floorValue = maxValue * pow(10.0, -decades);
            float mag = abs(v) <= floorValue ? 0.0 : log(abs(v) / floorValue) / log(10.0) / decades;
            return 0.5 + sign(v) * min(mag, 1.0) * 0.5;
        }
        return 0.5 + clamp(v / maxValue, -1.0, 1.0) * 0.5;
    }
    if (maxValue <= 0.0) return 0.0;
    if (logarithmic) {
        float floorValue = maxValue * pow(10.0, -decades);
        if (v <= floorValue) return 0.0;
        return min(1.0, log(v / floorValue) / log(10.0) / decades);
    }
    return clamp(v / maxValue, 0.0, 1.0);
}

void main() {
    ivec2 size = textureSize(values, 0);
    ivec2 texel = clamp(ivec2(floor(uv * vec2(size))), ivec2(0), size - 1);
    float v = texelFetch(values, texel, 0).r;
    if (pc.scale.w > 0.5) {
        // Mask overlay: dim what the variant drops (v = kept fraction of the pixel's cells).
        if (isnan(v)) discard;
        color = vec4(0.0, 0.0, 0.0, 0.7 * (1.0 - clamp(v, 0.0, 1.0)));
        return;
    }
    if (isnan(v)) {
        color = vec4(1.0, 1.0, 1.0, 1.0);  // kEmptyPixelColor
        return;
    }
    int index = int(min(255.0, floor(clamp(normalizeValue(v), 0.0, 1.0) * 255.0 + 0.5)));
    color = vec4(texelFetch(colormaps, ivec2(index, int(pc.scale.z)), 0).rgb, 1.0);
}
