/* The CPU kernels' f32/f64 instantiation. A kernel file is its own template: under
 * `#ifndef T` its common part defines SSM_CPU_TEMPLATE as the file's name and includes
 * this header, which includes the file twice more (its `#else` part, the template body):
 * T = float with FN(x) = x_f32, then T = double with FN(x) = x_f64. DISPATCH(fname, dt,
 * args...) then calls the instantiation for a dtype. No include guard: once per file. */
#define T float
#define FN(name) name##_f32
#include SSM_CPU_TEMPLATE
#undef T
#undef FN
#define T double
#define FN(name) name##_f64
#include SSM_CPU_TEMPLATE
#undef T
#undef FN

/* same arguments for both instantiations */
#define DISPATCH(fname, dt, ...) \
    SSM_CPU_DISPATCH(#fname, dt, fname##_f32(__VA_ARGS__), fname##_f64(__VA_ARGS__))
