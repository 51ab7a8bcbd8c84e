#!/usr/bin/env python3
"""Checks full-size torchvision exports against ONNX Runtime (outside CI: needs torch).

Exports ResNet-50 and SqueezeNet 1.1 (random weights, so no download) with both of
torch.onnx.export's exporters, runs each with `manako run` and with ONNX Runtime on the
same random input, and prints max |difference| and top-5 agreement as a Markdown table.

Usage: python3 scripts/check-torchvision.py [--manako .build/static/release/manako] [--out DIR]
Needs: torch, torchvision, onnx, onnxruntime, onnxscript (in a virtualenv: see README).
"""
import argparse
import pathlib
import subprocess
import tempfile

import numpy as np
import onnxruntime as ort
import torch
import torchvision

ROOT = pathlib.Path(__file__).resolve().parent.parent
MODELS = {"ResNet-50": torchvision.models.resnet50, "SqueezeNet 1.1": torchvision.models.squeezenet1_1}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--manako", default=str(ROOT / ".build/static/release/manako"))
    parser.add_argument("--out", default=tempfile.mkdtemp(prefix="manako-torchvision-"))
    args = parser.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    x = torch.randn(1, 3, 224, 224)
    np.save(out / "input.npy", x.numpy())
    print("| model | exporter | opset | max abs difference | top-5 identical |")
    print("|---|---|---|---|---|")
    for name, constructor in MODELS.items():
        model = constructor(weights=None).eval()
        for dynamo in (False, True):
            path = out / f"{name.replace(' ', '_')}-{'dynamo' if dynamo else 'torchscript'}.onnx"
            torch.onnx.export(model, (x,), str(path), input_names=["input"], output_names=["logits"], dynamo=dynamo)
            expected = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": x.numpy()})[0]
            result = out / path.stem
            subprocess.run([args.manako, "run", "--model", str(path), "--input", f"input={out / 'input.npy'}",
                            "--output-dir", str(result)], check=True)
            actual = np.load(result / "logits.npy")
            import onnx
            opset = next(o.version for o in onnx.load(str(path), load_external_data=False).opset_import if o.domain in ("", "ai.onnx"))
            same = list(np.argsort(-actual[0])[:5]) == list(np.argsort(-expected[0])[:5])
            print(f"| {name} | {'dynamo' if dynamo else 'TorchScript'} | {opset} | {np.abs(actual - expected).max():.2e} | {'yes' if same else 'NO'} |")


if __name__ == "__main__":
    main()
