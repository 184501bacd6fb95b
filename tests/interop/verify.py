#!/usr/bin/env python3
"""Interop checks between ssmtrain and the PyTorch runtimes (docs/EXPORT.md).

Run by hand on a machine with torch, transformers and safetensors (mamba_ssm optional);
never by `make check` (the project does not depend on Python):

    python3 tests/interop/verify.py --tools DIR_WITH_BINARIES --work /tmp/x [--device cpu|cuda]

DIR_WITH_BINARIES holds ssmtrain, ssmexport and ssmgen (the build's tools/ folder).
Checks (each a row of the table printed at the end; exit status 1 if any FAILs):
  a  a Mamba LM trained by ssmtrain (tiny, on tests/data/lm_bytes), exported with
     --format hf: MambaForCausalLM.from_pretrained loads it with no missing or
     unexpected keys; its logits equal ssmtrain's (ssmgen --dump-logits) to 1e-4
  b  a randomly initialised MambaForCausalLM saved with save_pretrained (F32, and a
     BF16 copy): ssmexport --import reads it; logits equal transformers' to 1e-4
  c  greedy generation: ssmgen --temperature 0 equals generate(do_sample=False)
     token for token, for the models of a and b
  d  mamba_ssm's MambaLMHeadModel with the reference scan (selective_scan_ref, no
     fused kernels): loads ssmtrain's native export strictly, logits to 1e-4; and
     its own state_dict imported into ssmtrain, logits to 1e-4 (SKIP when mamba_ssm
     cannot be imported; its RMSNorm is a Triton kernel, so it needs CUDA)
  e  S4D classifiers and state-spaces/s4's example.py S4Model (its class, with
     models/s4/s4d.py S4D layers; needs --s4-repo): a classifier trained by ssmtrain
     on tests/data/mnist, exported (native), loads strictly, and its logits on the 3
     test images equal ssmtrain's (ssmtrain --eval-only --dump-logits) to 1e-4; a
     random S4Model's state_dict, imported, gives the same logits as S4Model's
  f  the same with models/s4/s4.py S4Block layers (DPLR kernel, HiPPO-LegS), the S4Model
     variant the example's import line offers
  g  a byte-level LM trained for real (--lm-ckpt CKPT.h5, e.g. configs/lm_bytes_mamba.ini
     on Moby-Dick): as a and c1, with 200 greedy bytes, printed as text
Relative error = max |ours - theirs| / max |theirs| over all logits. PyTorch runs in
strict f32 (TF32 off for matmuls and cuDNN convolutions, which S4's output linear is).
transformers takes mamba_ssm's CUDA kernels when mamba_ssm imports: where its extension
is not built, run a, b, e, f without mamba_ssm on the path and d apart (--only d, the
same --work: d reads a's model).
"""
import argparse
import dataclasses
import json
import os
import subprocess
import sys
import traceback

TOL = 1e-4
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROMPT = b"Call me Ishmael. The sea was calm that morning, and"
NEW_TOKENS = 32
LONG_TOKENS = 200  # check g

rows = []  # (check, status, value, detail)


def row(check, ok, value="", detail=""):
    status = "PASS" if ok is True else "FAIL" if ok is False else ok
    rows.append((check, status, value, detail))
    print(f"[{status}] {check} {value} {detail}", flush=True)


def run(args, **kw):
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: exit {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p.stdout


class Tools:
    def __init__(self, d):
        self.d = d

    def __call__(self, name, *args):
        return run([os.path.join(self.d, name)] + [str(a) for a in args])

    def logits(self, ckpt, ids, work, tag):
        """ssmtrain's parallel forward over ids: ssmgen --dump-logits, [L, vocab]"""
        import numpy as np
        ids_file = os.path.join(work, f"{tag}.ids")
        with open(ids_file, "w") as f:
            f.write(" ".join(map(str, ids)) + "\n")
        out = os.path.join(work, f"{tag}.npy")
        self("ssmgen", ckpt, "--prompt-ids", ids_file, "--dump-logits", out)
        return np.load(out)

    def greedy(self, ckpt, ids, n, work, tag):
        ids_file = os.path.join(work, f"{tag}.ids")
        with open(ids_file, "w") as f:
            f.write(" ".join(map(str, ids)) + "\n")
        out = self("ssmgen", ckpt, "--prompt-ids", ids_file, "--tokens", n, "--temperature", "0",
                   "--print-ids")
        return [int(t) for t in out.rstrip("\n").split("\n")[-1].split()]


def rel_err(ours, theirs):
    import numpy as np
    ours, theirs = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    if ours.shape != theirs.shape:
        raise RuntimeError(f"shapes differ: ours {ours.shape}, theirs {theirs.shape}")
    return float(np.max(np.abs(ours - theirs)) / max(np.max(np.abs(theirs)), 1e-30))


def hf_logits(model, ids, device):
    import torch
    with torch.no_grad():
        x = torch.tensor([ids], dtype=torch.long, device=device)
        return model(x).logits[0].float().cpu().numpy()


def hf_greedy(model, ids, n, device):
    import torch
    model.generation_config.eos_token_id = None  # byte 0 is a byte, not an end
    model.generation_config.pad_token_id = 0
    with torch.no_grad():
        x = torch.tensor([ids], dtype=torch.long, device=device)
        out = model.generate(x, max_new_tokens=n, do_sample=False)
    return out[0, len(ids):].tolist()


def compare_tokens(check, ours, theirs):
    same = ours == theirs
    first = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), None)
    row(check, same and len(ours) == len(theirs), f"{len(ours)} tokens",
        "identical" if same else f"first difference at {first}: ours {ours}, theirs {theirs}")


def check_a(tools, work, device):
    """ssmtrain -> transformers"""
    run_dir = os.path.join(work, "a_run")
    tools("ssmtrain", os.path.join(ROOT, "configs/lm_bytes_mamba.ini"), "--out", run_dir,
          "--overwrite", "--set", f"data.path={os.path.join(ROOT, 'tests/data/lm_bytes')}",
          "--set", "model.d_model=32", "--set", "model.n_layers=2", "--set", "data.seq_len=64",
          "--set", "train.batch_size=4", "--set", "train.max_steps=60", "--set",
          "train.eval_every=60", "--set", "optim.warmup_steps=5")
    compare_lm(tools, os.path.join(run_dir, "ckpt", "last.h5"), work, device, "a",
               NEW_TOKENS, "c1 greedy ssmgen vs generate (ssmtrain-trained)")


def compare_lm(tools, ckpt, work, device, tag, n_new, greedy_check):
    """Export an ssmtrain LM with --format hf, load it in transformers, compare logits and
    greedy generation of n_new tokens; returns the generated ids (ours)"""
    from transformers import MambaForCausalLM
    hf_dir = os.path.join(work, f"{tag}_hf")
    tools("ssmexport", ckpt, hf_dir, "--format", "hf")
    model, info = MambaForCausalLM.from_pretrained(hf_dir, output_loading_info=True,
                                                   torch_dtype="float32")
    bad = {k: v for k, v in info.items() if v and k in ("missing_keys", "unexpected_keys",
                                                         "mismatched_keys")}
    row(f"{tag}1 from_pretrained(ssmtrain --format hf)", not bad, "",
        "no missing/unexpected keys" if not bad else str(bad))
    model = model.to(device).eval()
    ids = list(PROMPT)
    err = rel_err(tools.logits(ckpt, ids, work, tag), hf_logits(model, ids, device))
    row(f"{tag}2 logits ssmtrain vs transformers", err <= TOL, f"rel {err:.2e}",
        f"{len(ids)} tokens")
    ours = tools.greedy(ckpt, ids, n_new, work, f"{tag}_gen")
    compare_tokens(greedy_check, ours, hf_greedy(model, ids, n_new, device))
    return ours


def check_g(tools, work, device, ckpt):
    """a byte-level LM trained for real (configs/lm_bytes_mamba.ini): the same as a and c1,
    with a longer greedy continuation, printed as text"""
    if not ckpt:
        row("g (trained LM)", "SKIP", "", "needs --lm-ckpt")
        return
    ours = compare_lm(tools, ckpt, work, device, "g", LONG_TOKENS,
                      f"g3 greedy ssmgen vs generate ({os.path.basename(ckpt)})")
    text = (PROMPT + bytes(ours)).decode("utf-8", errors="replace")
    print(f"g: greedy continuation, {LONG_TOKENS} bytes:\n{text}\n", flush=True)


def check_b(tools, work, device):
    """transformers -> ssmtrain (F32, and BF16 weights)"""
    import torch
    from transformers import MambaConfig, MambaForCausalLM
    torch.manual_seed(0)
    cfg = MambaConfig(vocab_size=256, hidden_size=32, state_size=8, num_hidden_layers=2, expand=2,
                      conv_kernel=4, use_bias=False, use_conv_bias=True, time_step_rank="auto",
                      tie_word_embeddings=True)
    model = MambaForCausalLM(cfg).eval()
    with torch.no_grad():  # give every parameter a non-trivial value
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    ids = list(PROMPT)
    for dtype in ("float32", "bfloat16"):
        m = model if dtype == "float32" else model.to(torch.bfloat16)
        d = os.path.join(work, f"b_hf_{dtype}")
        m.save_pretrained(d, safe_serialization=True)
        ref = m.float() if dtype == "bfloat16" else m  # the bf16 values, computed in f32
        ckpt = os.path.join(work, f"b_{dtype}.h5")
        tools("ssmexport", "--import", d, ckpt)
        ref = ref.to(device)
        err = rel_err(tools.logits(ckpt, ids, work, f"b_{dtype}"), hf_logits(ref, ids, device))
        row(f"b{1 if dtype == 'float32' else 2} import save_pretrained ({dtype}) logits", err <= TOL,
            f"rel {err:.2e}", f"{len(ids)} tokens")
        if dtype == "float32":
            compare_tokens("c2 greedy ssmgen vs generate (transformers-initialised)",
                           tools.greedy(ckpt, ids, NEW_TOKENS, work, "b_gen"),
                           hf_greedy(ref, ids, NEW_TOKENS, device))
        model = ref.cpu()


def reference_scan_mamba_ssm():
    """mamba_ssm's LM with the PyTorch reference paths instead of its fused kernels"""
    import mamba_ssm.modules.mamba_simple as simple
    from mamba_ssm.ops.selective_scan_interface import selective_scan_ref
    simple.selective_scan_fn = selective_scan_ref
    simple.causal_conv1d_fn = None  # nn.Conv1d then
    from mamba_ssm.models.config_mamba import MambaConfig
    from mamba_ssm.models.mixer_seq_simple import MambaLMHeadModel

    def make(cfg, device):
        model = MambaLMHeadModel(cfg, device=device, dtype=__import__("torch").float32).eval()
        for layer in model.backbone.layers:
            layer.mixer.use_fast_path = False
        return model
    return MambaConfig, make


def check_d(tools, work, device):
    try:
        import mamba_ssm  # noqa: F401
    except Exception as e:  # not installed, or its CUDA extensions do not load
        row("d mamba_ssm MambaLMHeadModel", "SKIP", "", f"mamba_ssm not importable: {e}")
        return
    import torch
    from safetensors.torch import load_file, save_file
    if device != "cuda":
        row("d mamba_ssm MambaLMHeadModel", "SKIP", "", "needs --device cuda (Triton RMSNorm)")
        return
    MambaConfig, make = reference_scan_mamba_ssm()
    ids = list(PROMPT)
    # ssmtrain -> mamba_ssm: the native export of check a's model
    ckpt = os.path.join(work, "a_run", "ckpt", "last.h5")
    nat = os.path.join(work, "d_native")
    tools("ssmexport", ckpt, nat)
    with open(os.path.join(nat, "config.json")) as f:
        fields = {f.name for f in dataclasses.fields(MambaConfig)}
        raw = json.load(f)
        if "d_intermediate" not in fields:  # mamba_ssm 1.x: no MLP/attention keys, no ssm_cfg.layer
            raw["ssm_cfg"].pop("layer", None)
        cfg = MambaConfig(**{k: v for k, v in raw.items() if k in fields})
    model = make(cfg, device)
    res = model.load_state_dict(load_file(os.path.join(nat, "model.safetensors")), strict=False)
    bad = {k: v for k, v in (("missing", res.missing_keys), ("unexpected", res.unexpected_keys)) if v}
    row("d1 mamba_ssm load_state_dict(ssmtrain native)", not bad, "",
        "strict: nothing missing or unexpected" if not bad else str(bad))
    err = rel_err(tools.logits(ckpt, ids, work, "d1"), hf_logits(model, ids, device))
    row("d2 logits ssmtrain vs mamba_ssm (selective_scan_ref)", err <= TOL, f"rel {err:.2e}")
    # mamba_ssm -> ssmtrain: a random model's state_dict and its MambaConfig
    torch.manual_seed(1)
    cfg = MambaConfig(d_model=32, n_layer=2, vocab_size=250, pad_vocab_size_multiple=8,
                      ssm_cfg={"d_state": 8}, rms_norm=True, fused_add_norm=False,
                      residual_in_fp32=True)
    model = make(cfg, device)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    d = os.path.join(work, "d_from_mamba_ssm")
    os.makedirs(d, exist_ok=True)
    # both names of the tied head, as MambaLMHeadModel's state_dict has them
    save_file({k: v.detach().contiguous().clone() for k, v in model.state_dict().items()},
              os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(dataclasses.asdict(cfg), f)
    imp = os.path.join(work, "d_imported.h5")
    tools("ssmexport", "--import", d, imp)
    err = rel_err(tools.logits(imp, ids, work, "d3"), hf_logits(model, ids, device))
    row("d3 import mamba_ssm state_dict, logits", err <= TOL, f"rel {err:.2e}")


# --- e, f: S4D / S4 classifiers against state-spaces/s4's example.py ----------------------

MNIST = os.path.join(ROOT, "tests", "data", "mnist")
S4_SEQ = 784  # the fixture's images, one pixel a step


def s4_model_class(repo, kind):
    """example.py's S4Model class, compiled from its source (the script itself parses
    arguments and downloads CIFAR at import), with S4D or S4Block layers."""
    import ast
    import types
    import torch.nn as nn
    sys.path.insert(0, repo)
    try:
        import pytorch_lightning  # noqa: F401  (s4.py imports rank_zero_only from it)
    except ImportError:
        pl = types.ModuleType("pytorch_lightning")
        pl.utilities = types.ModuleType("pytorch_lightning.utilities")
        pl.utilities.rank_zero_only = lambda f: f
        sys.modules.update({"pytorch_lightning": pl, "pytorch_lightning.utilities": pl.utilities})
    if kind == "s4d":
        from models.s4.s4d import S4D as layer
    else:
        from models.s4.s4 import S4Block

        def layer(d_model, **kw):  # the kernel of tests/data/s4_layer.h5 (golden README)
            return S4Block(d_model, final_act="glu", activation="gelu", mode="dplr", init="legs",
                           d_state=S4_STATE, l_max=S4_SEQ, bidirectional=False, **kw)
    with open(os.path.join(repo, "example.py")) as f:
        tree = ast.parse(f.read())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "S4Model")
    ns = {"nn": nn, "S4D": layer, "dropout_fn": nn.Dropout,
          "args": types.SimpleNamespace(lr=0.01)}
    exec(compile(ast.Module(body=[cls], type_ignores=[]), "example.py", "exec"), ns)
    return ns["S4Model"]


S4_WIDTH, S4_LAYERS, S4_STATE = 16, 2, 64


def mnist_test_images():
    """tests/data/mnist's t10k images as ssmtrain's mnist reader gives them: pixel / 255"""
    import numpy as np
    with open(os.path.join(MNIST, "t10k-images-idx3-ubyte"), "rb") as f:
        raw = f.read()
    n, r, c = (int.from_bytes(raw[4 * i:4 * i + 4], "big") for i in (1, 2, 3))
    px = np.frombuffer(raw, np.uint8, n * r * c, 16).astype(np.float64)
    return (px / 255.0).astype(np.float32).reshape(n, r * c, 1)


def s4_config(kind):
    return f"""[model]
task = classification
encoder = linear
d_model = {S4_WIDTH}
n_layers = {S4_LAYERS}
layer = {kind}
norm = layer
prenorm = false
dropout = 0
pooling = mean

[layer]
d_state = {S4_STATE}
init = {"lin" if kind == "s4d" else "legs"}
{"discretization = zoh" if kind == "s4d" else ""}
activation = gelu
final_act = glu
lr = 0.001
weight_decay = 0

[data]
task = mnist
path = {MNIST}
val_fraction = 0.2

[train]
batch_size = 4
max_steps = 20
eval_every = 0
"""


def check_s4(kind, tools, work, device, repo):
    tag = "e" if kind == "s4d" else "f"
    name = "S4D" if kind == "s4d" else "S4 (S4Block)"
    if not repo:
        row(f"{tag} example.py S4Model, {name}", "SKIP", "", "needs --s4-repo (a state-spaces/s4 checkout)")
        return
    import numpy as np
    import torch
    from safetensors.torch import load_file, save_file
    S4Model = s4_model_class(repo, kind)
    x = torch.from_numpy(mnist_test_images()).to(device)

    def theirs(model):
        with torch.no_grad():
            return model.eval()(x).float().cpu().numpy()

    def ours(ckpt, out):
        tools("ssmtrain", "--eval-only", ckpt, "--dump-logits", out, "--device",
              "cuda" if device == "cuda" else "cpu")
        return np.load(out)

    # ssmtrain -> example.py
    cfg = os.path.join(work, f"{tag}.ini")
    with open(cfg, "w") as f:
        f.write(s4_config(kind))
    run_dir = os.path.join(work, f"{tag}_run")
    tools("ssmtrain", cfg, "--out", run_dir, "--overwrite")
    ckpt = os.path.join(run_dir, "ckpt", "last.h5")
    nat = os.path.join(work, f"{tag}_native")
    tools("ssmexport", ckpt, nat)
    model = S4Model(d_input=1, d_output=10, d_model=S4_WIDTH, n_layers=S4_LAYERS, dropout=0.0,
                    prenorm=False).to(device)
    res = model.load_state_dict({k: v.to(device) for k, v in
                                 load_file(os.path.join(nat, "model.safetensors")).items()},
                                strict=False)
    bad = {k: v for k, v in (("missing", res.missing_keys), ("unexpected", res.unexpected_keys)) if v}
    row(f"{tag}1 example.py S4Model({name}) load_state_dict(ssmtrain native)", not bad, "",
        "strict: nothing missing or unexpected" if not bad else str(bad))
    err = rel_err(ours(ckpt, os.path.join(work, f"{tag}1.npy")), theirs(model))
    row(f"{tag}2 logits ssmtrain vs example.py S4Model({name})", err <= TOL, f"rel {err:.2e}",
        f"{x.shape[0]} images of {S4_SEQ} steps")
    # example.py -> ssmtrain: a random S4Model, its state_dict and an ssmtrain config
    torch.manual_seed(2)
    model = S4Model(d_input=1, d_output=10, d_model=S4_WIDTH, n_layers=S4_LAYERS, dropout=0.0,
                    prenorm=False).to(device)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    d = os.path.join(work, f"{tag}_from_example")
    os.makedirs(d, exist_ok=True)
    save_file({k: (v.float() if v.is_floating_point() else v).detach().contiguous().cpu()
               for k, v in model.state_dict().items()},
              os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(nat, "config.json")) as f:  # the architecture keys, as EXPORT.md says
        meta = json.load(f)["ssmtrain"]
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump({"ssmtrain": {"layer": kind, "config": meta["config"]}}, f)
    imp = os.path.join(work, f"{tag}_imported.h5")
    tools("ssmexport", "--import", d, imp)
    err = rel_err(ours(imp, os.path.join(work, f"{tag}3.npy")), theirs(model))
    row(f"{tag}3 import example.py S4Model({name}) state_dict, logits", err <= TOL, f"rel {err:.2e}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tools", required=True, help="folder with ssmtrain, ssmexport, ssmgen")
    ap.add_argument("--work", required=True, help="scratch folder (created)")
    ap.add_argument("--device", default=None, help="torch device: cpu or cuda (default: cuda if available)")
    ap.add_argument("--s4-repo", default=None,
                    help="a state-spaces/s4 checkout (example.py, models/s4/) for checks e and f")
    ap.add_argument("--only", default="abdef", help="the checks to run (default abdef; g too)")
    ap.add_argument("--lm-ckpt", default=None, help="a trained byte-level LM checkpoint (check g)")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    tools = Tools(os.path.abspath(a.tools))
    try:
        import torch
        import safetensors  # noqa: F401
        if set(a.only) & set("abdg"):
            import transformers
    except Exception as e:
        print(f"verify.py: needs torch, safetensors and (checks a, b, d, g) transformers: {e}",
              file=sys.stderr)
        return 2
    device = a.device or ("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cuda.matmul.allow_tf32 = False  # ssmtrain's reference is f32
    torch.backends.cudnn.allow_tf32 = False
    print(f"torch {torch.__version__}, transformers "
          f"{sys.modules['transformers'].__version__ if 'transformers' in sys.modules else '-'}, "
          f"device {device}, tools {tools.d}, work {a.work}", flush=True)
    checks = (("a", check_a), ("b", check_b), ("d", check_d),
              ("e", lambda *x: check_s4("s4d", *x, a.s4_repo)),
              ("f", lambda *x: check_s4("s4", *x, a.s4_repo)),
              ("g", lambda *x: check_g(*x, a.lm_ckpt)))
    for name, fn in checks:
        if name not in a.only:
            continue
        try:
            fn(tools, a.work, device)
        except Exception as e:
            row(f"{name} (aborted)", False, "", f"{type(e).__name__}: {e}")
            traceback.print_exc()
    w = max(len(r[0]) for r in rows)
    print("\n" + "check".ljust(w) + "  status  value       detail")
    for c, s, v, d in rows:
        print(f"{c.ljust(w)}  {s:6}  {v:10}  {d}")
    return 1 if any(r[1] == "FAIL" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
