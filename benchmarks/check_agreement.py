#!/usr/bin/env python3
"""Whole-model agreement of Manako (two threads, every fast path on) with ONNX Runtime.

Usage: python3 benchmarks/check_agreement.py MODEL.onnx [MODEL.onnx ...]
For each model, one standard-normal input (seed 1): the largest |difference| of the outputs
relative to the largest |reference| value, and whether the top-5 classes agree.
Needs what benchmarks/compare_ort.py needs.
"""
import os
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402

import manako  # noqa: E402

for path in sys.argv[1:]:
    model = manako.Model(path, threads=2)
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    info = session.get_inputs()[0]
    shape = [d if isinstance(d, int) else 1 for d in info.shape]
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    ours = list(model.run({info.name: x}).values())[0].ravel()
    theirs = session.run(None, {info.name: x})[0].ravel()
    relative = np.abs(ours - theirs).max() / np.abs(theirs).max()
    same = list(np.argsort(-ours)[:5]) == list(np.argsort(-theirs)[:5])
    print(f"| {os.path.basename(path)} | {relative:.1e} | {'yes' if same else 'NO'} |", flush=True)
