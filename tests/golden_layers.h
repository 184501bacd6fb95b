/* Golden comparisons of whole layers, run by the CPU suites (f64 and f32) and by
 * test_cuda (f32 on the GPU). Each reads its shapes from the file. */
#ifndef SSM_GOLDEN_LAYERS_H
#define SSM_GOLDEN_LAYERS_H
#include "h5io.h"
#include "mamba.h"
#include "tensor.h"

/* s4d_kernel.h5: K and the gradients of the kernel parameters. */
void golden_s4d_kernel(ssm_dtype dt, ssm_device dev, double tol);
/* s4d_layer.h5: y and the gradients of u and every parameter. */
void golden_s4d_layer(ssm_dtype dt, ssm_device dev, double tol);

/* s4_fftconv.h5 (with_output 0) or s4_layer.h5 (1): y and every gradient; the kernel
 * /extra/K; C~ set up from /extra/C_before_setup (f64 only); step mode /extra/y_step
 * (CPU only: the dense step runs on the host). */
void golden_s4(int with_output, ssm_dtype dt, ssm_device dev, double tol);

/* s5_zoh.h5, s5_bilinear_bidir.h5 (`file`): the official S5SSM's y and the gradients of
 * u and every parameter; P, H, blocks, discretization, bidirectional from the file. */
void golden_s5(const char *file, ssm_dtype dt, ssm_device dev, double tol);

/* selective_scan.h5: y, last_state and the gradients of every input, at several chunk
 * sizes. */
void golden_selective_scan(ssm_dtype dt, ssm_device dev, double tol);
/* mamba_block.h5: y and every gradient; step mode (y_step, y_inference_tokens and the
 * states after the last step), prefill + step (y_prefill_step) and the states a parallel
 * pass leaves. */
void golden_mamba_block(ssm_dtype dt, ssm_device dev, double tol);
/* A Mamba block declared from mamba_block.h5's attributes (parameters not loaded). */
ssm_params *golden_mamba_from_file(ssm_h5 *f, ssm_mamba *m, ssm_dtype dt, ssm_device dev);

#endif
