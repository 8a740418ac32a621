// Map quad: one textured rectangle per draw, placed in framebuffer pixels by push constants.
// No vertex buffer: the four corners come from gl_VertexIndex (triangle strip).
#version 450

layout(push_constant) uniform Push {
    vec4 rect;      // x0, y0, x1, y1 in framebuffer pixels (may extend past the framebuffer)
    vec4 scale;     // maxValue, decades, colormap row, mode (0 colormap, 1 mask overlay)
    vec4 flags;     // logarithmic, signed, framebuffer width, framebuffer height
} pc;

layout(location = 0) out vec2 uv;

void main() {
    vec2 corner = vec2(gl_VertexIndex & 1, (gl_VertexIndex >> 1) & 1);
    vec2 pixel = mix(pc.rect.xy, pc.rect.zw, corner);
    uv = corner;
    gl_Position = vec4(pixel / pc.flags.zw * 2.0 - 1.0, 0.0, 1.0);
}
