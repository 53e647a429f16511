/* Stands in for virglrenderer's venus_hw.h, which llama.cpp's own CMake
 * downloads at build time (this build is offline). That header describes the
 * Venus capset (struct virgl_renderer_capset_venus); the reference frontend
 * includes it but uses none of it: it asks for the Venus capset id and reads
 * the answer into its own APIR layout (include/apir_hw.h beside its sources).
 * So nothing needs to be declared here. */
#ifndef REFERENCE_FRONTEND_VENUS_HW_H
#define REFERENCE_FRONTEND_VENUS_HW_H
#endif
