#!/usr/bin/env python3
"""ONNX Runtime peer benchmark for issue 8: all-MiniLM-L6-v2 fp32 and int8 on banking77.

No torch: the BertModel graph (6 layers, hidden 384, 12 heads, FFN 1536, erf GELU,
LayerNorm eps 1e-12, absolute positions, token type 0) is written with onnx.helper from
model.safetensors, in the op pattern a torch export produces (MatMul+Add, Reshape/Transpose,
Div by sqrt(d), additive mask from Unsqueeze/Cast/Sub/Mul, Softmax, Erf GELU,
LayerNormalization opset 17), followed by mean pooling over the attention mask and L2
normalisation. Variants (--variants): fp32 = that graph fused offline by
onnxruntime.transformers.optimizer (Attention, EmbedLayerNorm, SkipLayerNorm, BiasGelu);
fp32-plain = the graph with ORT's in-session fusions only (ORT_ENABLE_ALL; attention stays
unfused for opset 17); int8 / int8-pc = onnxruntime.quantization.quantize_dynamic of the
fused graph, QInt8 weights per tensor / per output channel; int8-plain = quantize_dynamic
of the unfused graph, per tensor, MatMul only.

Steps: build models (cached in --workdir), check them against reference_embeddings.jsonl,
then time the first 2,048 banking77 test texts at batch 1, 8, 32 (each batch padded to its
longest item): one warm-up pass, best of --passes passes, both encoder-only (texts
tokenised beforehand; what the triage criterion bench and benches/README.md call
sentences/s) and tokenise+encode.

Usage: python onnx_minilm.py [--threads 2] [--passes 3] [--variants fp32,int8,...] [--rebuild]
"""

import argparse
import csv
import json
import os
import platform
import sys
import time

# Tokenisation stays on the calling thread (no rayon pool competing with ORT's threads).
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import load_file
from tokenizers import Tokenizer

SHARED = os.environ.get("TRIAGE_SHARED", "/work/shared")
MODEL_DIR = os.path.join(SHARED, "models/all-MiniLM-L6-v2")
BANKING_TEST = os.path.join(SHARED, "datasets/banking77/raw/banking_data/test.csv")


# ---------------------------------------------------------------------------------------
# fp32 graph
# ---------------------------------------------------------------------------------------
def build_fp32(model_dir, out_path):
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    w = load_file(os.path.join(model_dir, "model.safetensors"))
    H = cfg["hidden_size"]
    NH = cfg["num_attention_heads"]
    HD = H // NH
    L = cfg["num_hidden_layers"]
    eps = float(cfg["layer_norm_eps"])
    assert cfg["hidden_act"] == "gelu" and cfg["position_embedding_type"] == "absolute"

    inits, nodes = [], []

    def init(name, arr):
        inits.append(numpy_helper.from_array(np.asarray(arr, order="C"), name))
        return name

    def node(op, ins, outs=None, name=None, **attrs):
        name = name or f"{op}_{len(nodes)}"
        outs = outs or [name + "_out"]
        nodes.append(helper.make_node(op, ins, outs, name=name, **attrs))
        return outs[0]

    f32 = lambda x: np.array(x, dtype=np.float32)
    i64 = lambda x: np.array(x, dtype=np.int64)

    # shared constants
    init("c_axis1", i64([1]))
    init("c_axis2", i64([2]))
    init("c_zero", i64([0]))
    init("c_one_i", i64(1))
    init("c_one", f32(1.0))
    init("c_mask_big", f32(-10000.0))
    init("c_sqrt_hd", f32(np.sqrt(HD)))
    init("c_sqrt2", f32(np.sqrt(2.0)))
    init("c_half", f32(0.5))
    init("c_shape_heads", i64([0, 0, NH, HD]))
    init("c_shape_hidden", i64([0, 0, H]))
    init("c_eps_count", f32(1e-9))
    init("c_eps_norm", f32(1e-12))

    # embeddings: token type is always 0, so its row is folded into the word table
    # ((word + type0)[id] is bit-identical to word[id] + type0).
    p = "embeddings."
    init("word_emb", w[p + "word_embeddings.weight"] + w[p + "token_type_embeddings.weight"][0])
    init("pos_emb", w[p + "position_embeddings.weight"])
    init("position_ids", w[p + "position_ids"].astype(np.int64))  # (1, 512)
    we = node("Gather", ["word_emb", "input_ids"], name="word_gather")
    shp = node("Shape", ["input_ids"], name="ids_shape")
    seq = node("Gather", [shp, "c_one_i"], name="seq_len", axis=0)
    seq1 = node("Unsqueeze", [seq, "c_zero"], name="seq_len_1d")
    pid = node("Slice", ["position_ids", "c_zero", seq1, "c_axis1"], name="pos_ids_slice")
    pe = node("Gather", ["pos_emb", pid], name="pos_gather")
    emb = node("Add", [we, pe], name="emb_add")
    init("emb_ln_w", w[p + "LayerNorm.weight"])
    init("emb_ln_b", w[p + "LayerNorm.bias"])
    h = node("LayerNormalization", [emb, "emb_ln_w", "emb_ln_b"], name="emb_ln", axis=-1, epsilon=eps)

    # extended attention mask (B,1,1,S): (1 - mask) * -10000
    m1 = node("Unsqueeze", ["attention_mask", "c_axis1"], name="mask_unsq1")
    m2 = node("Unsqueeze", [m1, "c_axis2"], name="mask_unsq2")
    mf = node("Cast", [m2], name="mask_cast", to=TensorProto.FLOAT)
    ms = node("Sub", ["c_one", mf], name="mask_sub")
    mask_add = node("Mul", [ms, "c_mask_big"], name="mask_mul")

    def linear(x, prefix, tag):
        wt = init(tag + "_w", w[prefix + ".weight"].T)  # (in, out)
        b = init(tag + "_b", w[prefix + ".bias"])
        mm = node("MatMul", [x, wt], name=tag + "_matmul")
        return node("Add", [mm, b], name=tag + "_add")

    for l in range(L):
        p = f"encoder.layer.{l}."
        t = f"l{l}_"
        q = linear(h, p + "attention.self.query", t + "q")
        k = linear(h, p + "attention.self.key", t + "k")
        v = linear(h, p + "attention.self.value", t + "v")
        q = node("Transpose", [node("Reshape", [q, "c_shape_heads"], name=t + "q_reshape")],
                 name=t + "q_transpose", perm=[0, 2, 1, 3])
        k = node("Transpose", [node("Reshape", [k, "c_shape_heads"], name=t + "k_reshape")],
                 name=t + "k_transpose", perm=[0, 2, 3, 1])
        v = node("Transpose", [node("Reshape", [v, "c_shape_heads"], name=t + "v_reshape")],
                 name=t + "v_transpose", perm=[0, 2, 1, 3])
        s = node("MatMul", [q, k], name=t + "qk_matmul")
        s = node("Div", [s, "c_sqrt_hd"], name=t + "qk_div")
        s = node("Add", [s, mask_add], name=t + "mask_add")
        pr = node("Softmax", [s], name=t + "softmax", axis=3)
        c = node("MatMul", [pr, v], name=t + "qkv_matmul")
        c = node("Transpose", [c], name=t + "ctx_transpose", perm=[0, 2, 1, 3])
        c = node("Reshape", [c, "c_shape_hidden"], name=t + "ctx_reshape")
        a = linear(c, p + "attention.output.dense", t + "attn_out")
        a = node("Add", [a, h], name=t + "attn_residual")
        init(t + "ln1_w", w[p + "attention.output.LayerNorm.weight"])
        init(t + "ln1_b", w[p + "attention.output.LayerNorm.bias"])
        h1 = node("LayerNormalization", [a, t + "ln1_w", t + "ln1_b"], name=t + "ln1", axis=-1, epsilon=eps)
        f = linear(h1, p + "intermediate.dense", t + "ffn1")
        # GELU (erf): x * 0.5 * (1 + erf(x / sqrt(2))), in the torch-export order
        g = node("Div", [f, "c_sqrt2"], name=t + "gelu_div")
        g = node("Erf", [g], name=t + "gelu_erf")
        g = node("Add", [g, "c_one"], name=t + "gelu_add")
        g = node("Mul", [f, g], name=t + "gelu_mul")
        g = node("Mul", [g, "c_half"], name=t + "gelu_mul_half")
        o = linear(g, p + "output.dense", t + "ffn2")
        o = node("Add", [o, h1], name=t + "ffn_residual")
        init(t + "ln2_w", w[p + "output.LayerNorm.weight"])
        init(t + "ln2_b", w[p + "output.LayerNorm.bias"])
        h = node("LayerNormalization", [o, t + "ln2_w", t + "ln2_b"], name=t + "ln2", axis=-1, epsilon=eps)

    # mean pooling over the mask, then L2 normalisation (sentence-transformers Normalize)
    pm = node("Cast", [node("Unsqueeze", ["attention_mask", "c_axis2"], name="pool_unsq")],
              name="pool_cast", to=TensorProto.FLOAT)
    summed = node("ReduceSum", [node("Mul", [h, pm], name="pool_mul"), "c_axis1"], name="pool_sum", keepdims=0)
    count = node("ReduceSum", [pm, "c_axis1"], name="pool_count", keepdims=0)
    count = node("Max", [count, "c_eps_count"], name="pool_clamp")
    mean = node("Div", [summed, count], name="pool_div")
    norm = node("ReduceL2", [mean], name="l2_norm", axes=[1], keepdims=1)
    norm = node("Max", [norm, "c_eps_norm"], name="l2_clamp")
    node("Div", [mean, norm], ["sentence_embedding"], name="l2_div")

    graph = helper.make_graph(
        nodes, "all-MiniLM-L6-v2",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "sequence"])],
        [helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", H])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="triage benches/peer/onnx_minilm.py")
    model.ir_version = 8
    onnx.checker.check_model(model)
    model = onnx.shape_inference.infer_shapes(model)
    onnx.save(model, out_path)


def fuse_offline(fp32_path, out_path):
    """onnxruntime.transformers.optimizer (ships in the onnxruntime wheel; what optimum's O2
    and sentence-transformers' optimized export run): EmbedLayerNormalization, Attention,
    SkipLayerNormalization, BiasGelu. ORT's in-session AttentionFusion only matches the
    op versions of old exports (Add-7/13, Unsqueeze-11), so an opset-17 graph gets its
    attention fused only this way."""
    from onnxruntime.transformers import optimizer
    from onnxruntime.transformers.fusion_options import FusionOptions
    import logging
    logging.getLogger("onnxruntime.transformers").setLevel(logging.ERROR)
    om = optimizer.optimize_model(fp32_path, model_type="bert", num_heads=12, hidden_size=384,
                                  opt_level=0, optimization_options=FusionOptions("bert"), use_gpu=False)
    om.save_model_to_file(out_path)
    return om.get_fused_operator_statistics()


def build_int8(fp32_path, out_path, per_channel, ops):
    from onnxruntime.quantization import QuantType, quantize_dynamic
    # Weights QInt8 symmetric (per tensor, or per output channel), activations quantised at
    # run time to uint8 (asymmetric) by DynamicQuantizeLinear (u8s8: VNNI's vpdpbusd).
    quantize_dynamic(fp32_path, out_path, weight_type=QuantType.QInt8,
                     per_channel=per_channel, reduce_range=False, op_types_to_quantize=ops)


# variant -> (description, builder)
VARIANTS = {
    "fp32": "fp32, graph fused offline by onnxruntime.transformers.optimizer (Attention, "
            "EmbedLayerNorm, SkipLayerNorm, BiasGelu) + ORT_ENABLE_ALL",
    "fp32-plain": "fp32, export-like graph, ORT_ENABLE_ALL in-session fusions only "
                  "(BiasGelu, SkipLayerNorm, FusedMatMul; attention unfused)",
    "int8": "quantize_dynamic of the fused fp32 graph: QInt8 weights per tensor, "
            "MatMul+Attention (-> DynamicQuantizeMatMul, QAttention)",
    "int8-pc": "as int8, weights per output channel",
    "int8-plain": "quantize_dynamic of the export-like graph: QInt8 per tensor, MatMul only "
                  "(the sentence-transformers avx512_vnni recipe)",
}


def build_all(model_dir, workdir, variants, rebuild):
    path = lambda v: os.path.join(workdir, f"minilm_{v}.onnx")
    plain = path("fp32-plain")
    if rebuild or not os.path.exists(plain):
        build_fp32(model_dir, plain)
    fused = path("fp32")
    if any(v in ("fp32", "int8", "int8-pc") for v in variants) and (rebuild or not os.path.exists(fused)):
        fuse_offline(plain, fused)
    recipes = {"int8": (fused, False, ["MatMul", "Attention"]),
               "int8-pc": (fused, True, ["MatMul", "Attention"]),
               "int8-plain": (plain, False, ["MatMul"])}
    for v in variants:
        if v in recipes and (rebuild or not os.path.exists(path(v))):
            src, pc, ops = recipes[v]
            build_int8(src, path(v), pc, ops)
    return {v: path(v) for v in variants}


# ---------------------------------------------------------------------------------------
# running
# ---------------------------------------------------------------------------------------
def session(path, threads, optimized_path=None):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    if optimized_path:
        so.optimized_model_filepath = optimized_path
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def op_counts(path):
    counts = {}
    for n in onnx.load(path, load_external_data=False).graph.node:
        key = n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}.{n.op_type}"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def pad_batch(encodings):
    n = max(len(e.ids) for e in encodings)
    ids = np.zeros((len(encodings), n), dtype=np.int64)
    mask = np.zeros((len(encodings), n), dtype=np.int64)
    for i, e in enumerate(encodings):
        ids[i, :len(e.ids)] = e.ids
        mask[i, :len(e.ids)] = 1
    return ids, mask


def run(sess, ids, mask):
    return sess.run(None, {"input_ids": ids, "attention_mask": mask})[0]


def cpu_info():
    try:
        txt = open("/proc/cpuinfo").read()
    except OSError:
        return platform.processor()
    name = next((l.split(":", 1)[1].strip() for l in txt.splitlines() if l.startswith("model name")), "?")
    flags = next((l.split(":", 1)[1].split() for l in txt.splitlines() if l.startswith("flags")), [])
    return name + " [" + " ".join(f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8") if f in flags) + "]"


def load_tokenizer(model_dir):
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tok.no_padding()  # tokenizer.json pads to 128; we pad each batch to its longest
    tok.enable_truncation(max_length=128)
    return tok


def verify(sessions, tok, model_dir):
    refs = [json.loads(l) for l in open(os.path.join(model_dir, "reference_embeddings.jsonl"))]
    texts = [r.get("input", r.get("text")) for r in refs]
    encs = tok.encode_batch(texts)
    id_match = sum(e.ids == r["ids"] for e, r in zip(encs, refs))
    ref = np.array([r["embedding"] for r in refs], dtype=np.float64)
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    out = {"n": len(refs), "ids_match": id_match}
    for name, sess in sessions.items():
        one = np.concatenate([run(sess, *pad_batch([e])) for e in encs])  # batch 1
        padded = run(sess, *pad_batch(encs))  # one padded batch
        cos1 = np.sum(one * ref, axis=1) / np.linalg.norm(one, axis=1)
        cosb = np.sum(padded * ref, axis=1) / np.linalg.norm(padded, axis=1)
        out[name] = {"min_cos_batch1": float(cos1.min()), "min_cos_padded": float(cosb.min()),
                     "mean_cos": float(cos1.mean()),
                     "max_abs_diff": float(np.abs(one - ref).max())}
    return out


def bench(sess, tok, texts, batch, passes):
    slices = [texts[i:i + batch] for i in range(0, len(texts), batch)]
    pre = [pad_batch(tok.encode_batch(s)) for s in slices]

    def enc_only():
        t0 = time.perf_counter()
        for ids, mask in pre:
            run(sess, ids, mask)
        return time.perf_counter() - t0

    def tok_enc():
        t0 = time.perf_counter()
        for s in slices:
            run(sess, *pad_batch(tok.encode_batch(s)))
        return time.perf_counter() - t0

    enc_only()  # warm-up
    t_enc = min(enc_only() for _ in range(passes))
    t_tok = min(tok_enc() for _ in range(passes))
    return len(texts) / t_enc, len(texts) / t_tok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2, help="intra_op_num_threads (default 2)")
    ap.add_argument("--passes", type=int, default=3, help="timed passes, best kept (default 3)")
    ap.add_argument("--batches", default="1,8,32")
    ap.add_argument("--variants", default=",".join(VARIANTS), help="comma list of: " + ", ".join(VARIANTS))
    ap.add_argument("--n", type=int, default=2048, help="first N banking77 test texts")
    ap.add_argument("--model-dir", default=MODEL_DIR)
    ap.add_argument("--data", default=BANKING_TEST)
    ap.add_argument("--workdir", default="/work/runs/onnx-minilm", help="where the .onnx files are written")
    ap.add_argument("--rebuild", action="store_true", help="rebuild the models even if cached")
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args()

    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    for v in variants:
        if v not in VARIANTS:
            ap.error(f"unknown variant {v}")
    os.makedirs(args.workdir, exist_ok=True)
    models = build_all(args.model_dir, args.workdir, variants, args.rebuild)
    opt = lambda v: os.path.join(args.workdir, f"minilm_{v}.opt.onnx")
    sessions = {v: session(p, args.threads, opt(v)) for v, p in models.items()}
    tok = load_tokenizer(args.model_dir)

    with open(args.data, newline="") as f:
        texts = [r["text"] for r in csv.DictReader(f)][:args.n]
    mean_tokens = np.mean([len(e.ids) for e in tok.encode_batch(texts)])

    load = os.getloadavg()
    print(f"# ONNX Runtime peer: all-MiniLM-L6-v2, banking77 test first {len(texts)} texts "
          f"({mean_tokens:.1f} tokens avg), each batch padded to its longest")
    print(f"onnxruntime {ort.__version__}, onnx {onnx.__version__}, numpy {np.__version__}, "
          f"python {platform.python_version()}, {os.cpu_count()} cpus; "
          f"intra_op {args.threads}, inter_op 1, sequential, ORT_ENABLE_ALL")
    print(f"cpu: {cpu_info()}")
    print(f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    for v in models:
        print(f"  {v:10s} {VARIANTS[v]}")
        print(f"  {'':10s} optimised graph: " + ", ".join(f"{k} {n}" for k, n in op_counts(opt(v)).items()))

    ver = verify(sessions, tok, args.model_dir)
    print(f"\ncorrectness vs reference_embeddings.jsonl ({ver['n']} texts; tokenizer ids match "
          f"{ver['ids_match']}/{ver['n']}): cosine to the reference embedding")
    ok = True
    for v in models:
        r = ver[v]
        print(f"  {v:10s} min {r['min_cos_batch1']:.6f} (batch 1), {r['min_cos_padded']:.6f} (all 12 in one "
              f"padded batch); mean {r['mean_cos']:.6f}; max |diff| {r['max_abs_diff']:.1e}")
        if v.startswith("fp32"):
            ok &= min(r["min_cos_batch1"], r["min_cos_padded"]) >= 0.9999
    print(f"  fp32 min cosine >= 0.9999: {'PASS' if ok else 'FAIL'}")

    batches = [int(b) for b in args.batches.split(",")]
    res = {}
    for v, sess in sessions.items():
        for b in batches:
            res[(v, b)] = bench(sess, tok, texts, b, args.passes)
            print(f"  .. {v} batch {b}: {res[(v, b)][0]:,.0f} / {res[(v, b)][1]:,.0f}", file=sys.stderr)

    load = os.getloadavg()
    print(f"\nsentences/s, {args.threads} thread(s), best of {args.passes} passes over {len(texts)} texts. "
          f"'encoder': texts tokenised beforehand (what the triage criterion bench counts); "
          f"'+tok': tokenise+pad+encode")
    print(f"| ORT {ort.__version__}, {args.threads} thr | " + " | ".join(f"batch {b}" for b in batches) + " |")
    print("|---|" + "---|" * len(batches))
    for v in models:
        for col, label in ((0, "encoder"), (1, "+tok")):
            print(f"| {v}, {label} | " + " | ".join(f"{res[(v, b)][col]:,.0f}" for b in batches) + " |")
    print(f"load average at end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")

    if args.json:
        json.dump({"ort": ort.__version__, "threads": args.threads, "passes": args.passes, "n": len(texts),
                   "variants": {v: VARIANTS[v] for v in models}, "correctness": ver,
                   "throughput": {f"{v}/{b}": {"encoder": r[0], "tok_encode": r[1]} for (v, b), r in res.items()}},
                  open(args.json, "w"), indent=1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
