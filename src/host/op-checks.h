/* One check per op of the table (op-table.c): what is wrong with tensor t,
 * whose op is that one, beyond its types and sources, or NULL. */
#ifndef HOST_OP_CHECKS_H
#define HOST_OP_CHECKS_H

#include "ggml.h"

const char *host_check_binary(const struct ggml_tensor *t);
const char *host_check_add_id(const struct ggml_tensor *t);
const char *host_check_dup(const struct ggml_tensor *t);
const char *host_check_cont(const struct ggml_tensor *t);
const char *host_check_cpy(const struct ggml_tensor *t);
const char *host_check_sum_rows(const struct ggml_tensor *t);
const char *host_check_concat(const struct ggml_tensor *t);
const char *host_check_norm(const struct ggml_tensor *t);
const char *host_check_rms_norm(const struct ggml_tensor *t);
const char *host_check_mul_mat(const struct ggml_tensor *t);
const char *host_check_mul_mat_id(const struct ggml_tensor *t);
const char *host_check_scale(const struct ggml_tensor *t);
const char *host_check_reshape(const struct ggml_tensor *t);
const char *host_check_view(const struct ggml_tensor *t);
const char *host_check_permute(const struct ggml_tensor *t);
const char *host_check_transpose(const struct ggml_tensor *t);
const char *host_check_get_rows(const struct ggml_tensor *t);
const char *host_check_set_rows(const struct ggml_tensor *t);
const char *host_check_soft_max(const struct ggml_tensor *t);
const char *host_check_rope(const struct ggml_tensor *t);
const char *host_check_argsort(const struct ggml_tensor *t);
const char *host_check_flash_attn_ext(const struct ggml_tensor *t);
const char *host_check_unary(const struct ggml_tensor *t);
const char *host_check_glu(const struct ggml_tensor *t);

#endif
