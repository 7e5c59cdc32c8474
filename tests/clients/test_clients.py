"""Real clients from PyPI against a running triage (scripts/compat_clients.sh starts one).

huggingface_hub's InferenceClient (TEI's /embed and /predict) and the openai SDK
(/v1/embeddings, float and base64) must work unchanged, and give what triage's own API
gives: the vectors of /v1/embed within 1e-5, the scores of /v1/classify.

    python tests/clients/test_clients.py http://127.0.0.1:8080
"""

import base64
import json
import sys
import time
import urllib.error
import urllib.request

import numpy as np
import openai
from huggingface_hub import InferenceClient

BASE = sys.argv[1].rstrip("/") if len(sys.argv) > 1 else "http://127.0.0.1:8080"
TEXTS = [
    "where is my parcel, it should have arrived on monday",
    "I want my money back, this is ridiculous",
    "how do I change the delivery address",
]
TOL = 1e-5


def post(path, body):
    req = urllib.request.Request(
        BASE + path,
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.load(r)


def wait_ready(timeout=900):
    """/ready turns 200 once the bundle is loaded (minutes on a busy machine)."""
    started = time.time()
    while time.time() - started < timeout:
        try:
            with urllib.request.urlopen(BASE + "/ready", timeout=5) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise SystemExit(f"{BASE} not ready after {timeout} s")


def v1_embed(texts):
    return np.array(post("/v1/embed", {"inputs": texts})["embeddings"], dtype=np.float32)


def assert_close(got, want, what):
    got = np.asarray(got, dtype=np.float32)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    diff = float(np.max(np.abs(got - want)))
    assert diff <= TOL, f"{what}: differs by {diff}"


def test_feature_extraction():
    client = InferenceClient(base_url=BASE + "/embed")
    want = v1_embed(TEXTS)
    for i, text in enumerate(TEXTS):
        # TEI answers one text with a list of one vector.
        assert_close(client.feature_extraction(text), want[i : i + 1], f"text {i}")
    assert_close(client.feature_extraction(TEXTS), want, "batch")
    assert_close(
        client.feature_extraction(TEXTS[0], normalize=True, truncate=True),
        want[:1],
        "normalize/truncate",
    )


def test_text_classification():
    client = InferenceClient(base_url=BASE + "/predict")
    for text in TEXTS:
        out = client.text_classification(text)
        intent = post("/v1/classify", {"text": text})["intent"]
        # TEI answers one text with one list of labels; huggingface_hub returns the
        # first element of the answer: the best label.
        best = out[0] if isinstance(out, list) else out
        assert best.label == intent["top"][0]["label"], (text, best, intent)
        assert abs(best.score - intent["top"][0]["score"]) <= TOL, (text, best, intent)
    # The multi-label emotion head, scored with sigmoid as /v1/classify scores it.
    emotion = InferenceClient(base_url=BASE + "/predict?head=emotion")
    for text in TEXTS:
        out = emotion.text_classification(text)
        best = out[0] if isinstance(out, list) else out
        scores = post("/v1/classify", {"text": text})["emotion"]["scores"]
        top = max(scores, key=scores.get)
        assert best.label == top, (text, best, top)
        assert abs(best.score - scores[top]) <= TOL, (text, best, scores[top])


def test_openai_embeddings():
    client = openai.OpenAI(base_url=BASE + "/v1", api_key="x", max_retries=0)
    want = v1_embed(TEXTS)
    # The SDK's default asks for base64 and decodes it itself.
    r = client.embeddings.create(model="triage-en-small", input=TEXTS)
    assert r.model == "triage-en-small", r.model
    assert [d.index for d in r.data] == [0, 1, 2]
    assert_close([d.embedding for d in r.data], want, "default (base64 by the SDK)")
    assert 0 < r.usage.prompt_tokens == r.usage.total_tokens, r.usage
    r = client.embeddings.create(model="triage-en-small", input=TEXTS, encoding_format="float")
    assert_close([d.embedding for d in r.data], want, "float")
    r = client.embeddings.create(model="triage-en-small", input=TEXTS, encoding_format="base64")
    decoded = [np.frombuffer(base64.b64decode(d.embedding), dtype="<f4") for d in r.data]
    assert_close(decoded, want, "base64")
    r = client.embeddings.create(model="triage-en-small", input=TEXTS[0], dimensions=384)
    assert_close([r.data[0].embedding], want[:1], "one string")
    # OpenAI's errors, as the SDK raises them.
    try:
        client.embeddings.create(model="text-embedding-3-small", input="hi")
        raise AssertionError("an OpenAI model name was accepted")
    except openai.NotFoundError as e:
        assert e.code == "model_not_found" and e.param == "model", e.body
    try:
        client.embeddings.create(model="triage-en-small", input="hi", dimensions=256)
        raise AssertionError("dimensions=256 was accepted")
    except openai.BadRequestError as e:
        assert e.param == "dimensions", e.body
    try:
        client.embeddings.create(model="triage-en-small", input=[[101, 2023, 102]])
        raise AssertionError("token ids were accepted")
    except openai.BadRequestError as e:
        assert e.param == "input", e.body


def main():
    wait_ready()
    tests = [test_feature_extraction, test_text_classification, test_openai_embeddings]
    failed = 0
    for test in tests:
        try:
            test()
            print(f"ok      {test.__name__}")
        except Exception as e:  # report every failure, then fail
            failed += 1
            print(f"FAILED  {test.__name__}: {type(e).__name__}: {e}")
    print(f"{len(tests) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
