#!/usr/bin/env python3
"""How far can out-of-scope detection go on clinc150 with the shipped encoder? (issue 15)

Embeds clinc150 (train, val, test and their out-of-scope splits) through a running
`triage serve` (`/v1/embed`, the bundle's own encoder), scores every message with the
bundle's `intent.clinc` head (weights and temperature read from the bundle) and with
distance scores on the embedding, and prints, for each score, its AUROC and the best
out-of-scope recall any threshold reaches on the test split at in-scope accuracy
>= 0.95 / 0.955 / 0.96 (an upper bound: the threshold is chosen on test), then the
fused score with its threshold and weight chosen on dev.

Scores (higher = more out of scope): p(oos) (the head's own `oos` class), 1 - max
in-scope probability (MSP), energy of the in-scope logits, Mahalanobis distance to the
nearest in-scope class mean (shared covariance, fitted on train), cosine kNN to train,
and MSP + w * standardised Mahalanobis.

  triage serve --addr 127.0.0.1:8099 &
  python eval/analysis/clinc_ood.py --url http://127.0.0.1:8099 [--model models/triage-en-small]

Needs numpy and safetensors (benches/peer/requirements.txt has both). Embeddings are
cached in --cache (default target/clinc-ood).
"""
import argparse, json, os, re, urllib.request
import numpy as np
from safetensors.numpy import load_file

ap = argparse.ArgumentParser()
ap.add_argument("--url", default="http://127.0.0.1:8080")
ap.add_argument("--model", default="models/triage-en-small")
ap.add_argument("--data", default="../shared/datasets/clinc150/raw/data/data_full.json")
ap.add_argument("--cache", default="target/clinc-ood")
args = ap.parse_args()

bundle = open(os.path.join(args.model, "bundle.toml")).read()
name = re.search(r'^name = "(.*)"', bundle, re.M).group(1)
version = re.search(r'^version = "(.*)"', bundle, re.M).group(1)
sec = bundle[bundle.index('name = "intent.clinc"'):]
sec = sec[: sec.find("[[head]]")] if "[[head]]" in sec else sec
labels = json.loads("[" + re.search(r"labels = \[(.*?)\]", sec, re.S).group(1).strip().rstrip(",") + "]")
temp = float(re.search(r"temperature = ([0-9.]+)", sec).group(1))
oos = labels.index("oos")
w = load_file(os.path.join(args.model, "model.safetensors"))
W = w["heads.intent.clinc.weight"].astype(np.float32)
b = w["heads.intent.clinc.bias"].astype(np.float32)

data = json.load(open(args.data))
cache = os.path.join(args.cache, f"{name}-{version}")
os.makedirs(cache, exist_ok=True)


def embed(split):
    path = os.path.join(cache, split + ".npy")
    if os.path.exists(path):
        return np.load(path)
    texts = [t for t, _ in data[split]]
    out = []
    for i in range(0, len(texts), 32):
        body = json.dumps({"inputs": texts[i : i + 32], "model": name}).encode()
        req = urllib.request.Request(args.url + "/v1/embed", body, {"content-type": "application/json"})
        out.extend(json.load(urllib.request.urlopen(req))["embeddings"])
    x = np.array(out, dtype=np.float32)
    np.save(path, x)
    return x


X = {s: embed(s) for s in ["train", "val", "test", "oos_val", "oos_test"]}
Y = {s: np.array([l for _, l in data[s]]) for s in ["train", "val", "test"]}


def logits(x):
    return (x @ W.T + b) / temp


def probs(x):
    z = logits(x)
    z -= z.max(1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(1, keepdims=True)


# In-scope prediction: the best in-scope label (out-of-scope is the scores' job).
def predict(x):
    p = probs(x)
    p[:, oos] = -1
    return np.array(labels)[p.argmax(1)]


classes = sorted(set(Y["train"]))
idx = np.array([classes.index(y) for y in Y["train"]])
mu = np.stack([X["train"][idx == k].mean(0) for k in range(len(classes))])
R = X["train"] - mu[idx]
cov = R.T @ R / len(R) + 1e-4 * np.eye(R.shape[1])
A = np.linalg.cholesky(np.linalg.inv(cov)).T
Amu = mu @ A.T


def maha(x):
    z = x @ A.T
    return ((z**2).sum(1)[:, None] - 2 * z @ Amu.T + (Amu**2).sum(1)[None, :]).min(1)


def msp(x):
    return 1 - np.delete(probs(x), oos, 1).max(1)


def energy(x):
    l = np.delete(logits(x), oos, 1)
    m = l.max(1, keepdims=True)
    return -(m[:, 0] + np.log(np.exp(l - m).sum(1)))


def knn(x, k=10):
    s = np.sort(x @ X["train"].T, 1)
    return -s[:, -k:].mean(1)


dv = maha(X["val"])
mu_d, sd_d = dv.mean(), dv.std()
scores = {
    "p(oos)": lambda x: probs(x)[:, oos],
    "1 - max in-scope p (MSP)": msp,
    "energy (in-scope logits)": energy,
    "Mahalanobis, nearest class": maha,
    "cosine kNN (k=10) to train": knn,
}
for wgt in [0.05, 0.1, 0.2]:
    scores[f"MSP + {wgt} * z(Mahalanobis)"] = lambda x, wgt=wgt: msp(x) + wgt * (maha(x) - mu_d) / sd_d

correct = {s: predict(X[s]) == Y[s] for s in ["val", "test"]}


def auroc(s_in, s_out):
    s = np.r_[s_in, s_out]
    r = np.empty(len(s))
    r[s.argsort()] = np.arange(1, len(s) + 1)
    n1, n0 = len(s_out), len(s_in)
    return (r[len(s_in) :].sum() - n1 * (n1 + 1) / 2) / (n0 * n1)


def best_recall(s_in, s_out, ok, at):
    """Best out-of-scope recall of `score > t` with in-scope accuracy >= at, and its t."""
    best = (0.0, None)
    for t in np.unique(np.r_[s_in, s_out]):
        if np.mean(ok & (s_in <= t)) >= at:
            r = np.mean(s_out > t)
            if r > best[0]:
                best = (r, t)
    return best


print(f"{name} {version}: clinc150 test, {len(Y['test'])} in-scope + {len(X['oos_test'])} out-of-scope;"
      f" in-scope accuracy with nothing rejected {correct['test'].mean():.4f}")
print("| score | AUROC | best OOS recall at in-scope >= 0.95 | >= 0.955 | >= 0.96 | dev-chosen at 0.96: test in-scope / OOS recall |")
print("|---|---|---|---|---|---|")
for label, f in scores.items():
    si, so = f(X["test"]), f(X["oos_test"])
    row = [f"{best_recall(si, so, correct['test'], a)[0]:.3f}" for a in (0.95, 0.955, 0.96)]
    r_dev, t = best_recall(f(X["val"]), f(X["oos_val"]), correct["val"], 0.96)
    chosen = "–" if t is None else f"{np.mean(correct['test'] & (si <= t)):.4f} / {np.mean(so > t):.3f}"
    print(f"| {label} | {auroc(si, so):.4f} | " + " | ".join(row) + f" | {chosen} |")
