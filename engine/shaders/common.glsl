/* common.glsl - what every compute shader of the Vulkan backend shares.
 *
 * Binding 0 holds this dispatch's parameters: 32 words, read as uints or
 * (through P_F) float bits.  Every other buffer is a plain uint / float
 * array bound at an aligned offset; the parameters carry each tensor's
 * offset inside its binding (in words, or bytes for weights), so views at
 * any 4-byte offset and windows of large tensors need no special cases.
 * Workgroups are numbered over x and y (WG_ID) because one dimension stops
 * at 65535 on many devices. */
#extension GL_EXT_control_flow_attributes : enable
#ifdef USE_SUBGROUP
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif

layout(std430, set = 0, binding = 0) readonly buffer Params { uint P[32]; };

#define P_F(i) uintBitsToFloat(P[i])
#define WG_ID (gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x)
