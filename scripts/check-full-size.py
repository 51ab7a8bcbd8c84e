#!/usr/bin/env python3
"""Checks full-size exports of every supported architecture against ONNX Runtime (outside CI:
needs torch, torchvision and timm in a virtualenv, see README; weights are random, so nothing
is downloaded).

For each model: export with torch.onnx.export, run `manako info` (no unsupported operator
allowed), run `manako run` and ONNX Runtime on the same input, and print a Markdown row with
the opset, max |difference|, that difference relative to the largest |logit| (random weights
give some networks tiny or huge logits), and whether the top-5 classes agree.

Usage: python3 scripts/check-full-size.py [--dynamo] [--only NAME ...] [--manako PATH] [--out DIR]
"""
import argparse
import pathlib
import subprocess
import tempfile
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import timm
import torch
import torchvision.models as tvm

ROOT = pathlib.Path(__file__).resolve().parent.parent
warnings.filterwarnings("ignore")

MODELS = {
    "AlexNet": lambda: tvm.alexnet(), "VGG-11": lambda: tvm.vgg11(), "VGG-16": lambda: tvm.vgg16(),
    "VGG-19": lambda: tvm.vgg19(), "VGG-16-BN": lambda: tvm.vgg16_bn(), "VGG-19-BN": lambda: tvm.vgg19_bn(),
    "ResNet-18": lambda: tvm.resnet18(), "ResNet-50": lambda: tvm.resnet50(), "ResNet-101": lambda: tvm.resnet101(),
    "ResNeXt-50 32x4d": lambda: tvm.resnext50_32x4d(), "Wide ResNet-50-2": lambda: tvm.wide_resnet50_2(),
    "SqueezeNet 1.0": lambda: tvm.squeezenet1_0(), "SqueezeNet 1.1": lambda: tvm.squeezenet1_1(),
    "DenseNet-121": lambda: tvm.densenet121(), "DenseNet-169": lambda: tvm.densenet169(),
    "MobileNetV2": lambda: tvm.mobilenet_v2(), "MobileNetV3-Small": lambda: tvm.mobilenet_v3_small(),
    "MobileNetV3-Large": lambda: tvm.mobilenet_v3_large(),
    **{f"EfficientNet-B{i}": (lambda i=i: getattr(tvm, f"efficientnet_b{i}")()) for i in range(5)},
    **{f"EfficientNet-Lite{i}": (lambda i=i: timm.create_model(f"efficientnet_lite{i}")) for i in range(5)},
    "RegNetY-400MF": lambda: tvm.regnet_y_400mf(), "ConvNeXt-Tiny": lambda: tvm.convnext_tiny(),
    "DeiT-Tiny": lambda: timm.create_model("deit_tiny_patch16_224"), "ViT-B/16": lambda: tvm.vit_b_16(),
    "Swin-Tiny": lambda: tvm.swin_t(),
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--manako", default=str(ROOT / ".build/static/release/manako"))
    parser.add_argument("--out", default=tempfile.mkdtemp(prefix="manako-full-size-"))
    parser.add_argument("--dynamo", action="store_true", help="use the dynamo exporter instead of TorchScript")
    parser.add_argument("--only", nargs="*")
    args = parser.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    exporter = "dynamo" if args.dynamo else "TorchScript"
    print("| model | exporter | opset | unsupported operators | max abs difference | relative to max logit | top-5 identical |")
    print("|---|---|---|---|---|---|---|")
    for name, make in MODELS.items():
        if args.only and name not in args.only:
            continue
        torch.manual_seed(0)
        model = make().eval()
        # Some heads start at zero (torchvision's ViT), which would make every logit 0.
        for module in model.modules():
            if isinstance(module, torch.nn.Linear) and not module.weight.any():
                torch.nn.init.normal_(module.weight, std=0.02)
        size = 224
        x = torch.randn(1, 3, size, size)
        stem = name.replace(" ", "_").replace("/", "_")
        path = out / f"{stem}.onnx"
        kwargs = dict(dynamo=True) if args.dynamo else dict(dynamo=False, opset_version=17)
        try:
            torch.onnx.export(model, (x,), str(path), input_names=["input"], output_names=["logits"], **kwargs)
        except Exception as e:
            print(f"| {name} | {exporter} | - | export failed: {str(e).splitlines()[0][:80]} | - | - | - |", flush=True)
            continue
        opset = next(o.version for o in onnx.load(str(path), load_external_data=False).opset_import if o.domain in ("", "ai.onnx"))
        info = subprocess.run([args.manako, "info", "--model", str(path)], capture_output=True, text=True).stdout
        unsupported = info.split("unsupported operators", 1)[1].splitlines()[0].strip(" :") if "unsupported operators" in info else "?"
        np.save(out / "input.npy", x.numpy())
        expected = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": x.numpy()})[0]
        run = subprocess.run([args.manako, "run", "--model", str(path), "--input", f"input={out / 'input.npy'}",
                              "--output-dir", str(out / stem)], capture_output=True, text=True)
        if run.returncode != 0:
            print(f"| {name} | {exporter} | {opset} | {unsupported} | failed: {run.stderr.strip()[:100]} | - | - |", flush=True)
            continue
        actual = np.load(out / stem / "logits.npy")
        same = list(np.argsort(-actual[0])[:5]) == list(np.argsort(-expected[0])[:5])
        difference = np.abs(actual - expected).max()
        relative = difference / max(np.abs(expected).max(), 1e-30)
        print(f"| {name} | {exporter} | {opset} | {unsupported} | {difference:.1e} | {relative:.1e} | {'yes' if same else 'NO'} |", flush=True)
        path.unlink()
        for data in out.glob("*.data"):
            data.unlink()


if __name__ == "__main__":
    main()
