#!/usr/bin/env python3
"""Exports small (width- or depth-reduced) members of every architecture family with torch and
torchvision, records ONNX Runtime's outputs for a fixed input, and writes the fixtures that CI
compares Manako against: Tests/ManakoONNXTests/Architectures/<family>/ holds input.npy and, per
export form, <form>.onnx and <form>.npy (ONNX Runtime's logits).

Each model keeps its family's layers and export patterns but has few channels and 10 classes,
so the fixtures stay small. Batch 2, with a symbolic batch axis. Needs torch, torchvision,
onnx, onnxruntime and onnxscript (in a virtualenv, see README).
Usage: python3 scripts/export-architectures.py [--only NAME...]
"""
import argparse
import pathlib
import shutil
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn
import torchvision.models as tvm
from torchvision.models import efficientnet, mobilenetv3, regnet, resnet, squeezenet
from torchvision.models.convnext import CNBlockConfig, ConvNeXt
from torchvision.models.swin_transformer import SwinTransformer
from torchvision.models.vision_transformer import VisionTransformer

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests/ManakoONNXTests/Architectures"
warnings.filterwarnings("ignore")


def mini_resnet(block, groups=1, width=64):
    """torchvision's ResNet blocks with 8-32 channels: stem, maxpool, two stages, pool, fc."""
    class Mini(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 8, 7, 2, 3, bias=False), nn.BatchNorm2d(8), nn.ReLU(inplace=True),
                                      nn.MaxPool2d(3, 2, 1))
            e = block.expansion
            down = nn.Sequential(nn.Conv2d(8, 16 * e, 1, 2, bias=False), nn.BatchNorm2d(16 * e))
            self.layer1 = block(8, 16, stride=2, downsample=down, groups=groups, base_width=width)
            self.layer2 = block(16 * e, 16, groups=groups, base_width=width)
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(16 * e, 10)

        def forward(self, x):
            return self.fc(torch.flatten(self.pool(self.layer2(self.layer1(self.stem(x)))), 1))
    return Mini()


def mini_vgg(batch_norm):
    model = tvm.VGG(tvm.vgg.make_layers([8, "M", 16, "M", 16, 16, "M"], batch_norm=batch_norm), num_classes=10)
    model.classifier = nn.Sequential(nn.Linear(16 * 7 * 7, 32), nn.ReLU(True), nn.Dropout(), nn.Linear(32, 32),
                                     nn.ReLU(True), nn.Dropout(), nn.Linear(32, 10))
    return model, 56


def mini_alexnet():
    model = tvm.AlexNet(num_classes=10)
    model.features = nn.Sequential(
        nn.Conv2d(3, 8, 11, 4, 2), nn.ReLU(True), nn.MaxPool2d(3, 2), nn.Conv2d(8, 16, 5, padding=2), nn.ReLU(True),
        nn.MaxPool2d(3, 2), nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(True), nn.Conv2d(16, 16, 3, padding=1),
        nn.ReLU(True), nn.MaxPool2d(3, 2))
    # Pool to 1x1 (AlexNet pools to 6x6, which needs 224-pixel inputs to export with TorchScript).
    model.avgpool = nn.AdaptiveAvgPool2d((1, 1))
    model.classifier = nn.Sequential(nn.Dropout(), nn.Linear(16, 32), nn.ReLU(True), nn.Dropout(),
                                     nn.Linear(32, 32), nn.ReLU(True), nn.Linear(32, 10))
    return model, 63


def mini_squeezenet(version):
    model = squeezenet.SqueezeNet(version=version, num_classes=10)
    fire = squeezenet.Fire
    if version == "1_0":
        model.features = nn.Sequential(nn.Conv2d(3, 16, 7, 2), nn.ReLU(True), nn.MaxPool2d(3, 2, ceil_mode=True),
                                       fire(16, 4, 8, 8), fire(16, 4, 8, 8), nn.MaxPool2d(3, 2, ceil_mode=True), fire(16, 8, 16, 16))
    else:
        model.features = nn.Sequential(nn.Conv2d(3, 16, 3, 2), nn.ReLU(True), nn.MaxPool2d(3, 2, ceil_mode=True),
                                       fire(16, 4, 8, 8), fire(16, 4, 8, 8), nn.MaxPool2d(3, 2, ceil_mode=True), fire(16, 8, 16, 16))
    model.classifier[1] = nn.Conv2d(32, 10, 1)
    return model, 48


def mini_mobilenet_v2():
    setting = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 1, 2]]
    model = tvm.MobileNetV2(num_classes=10, width_mult=0.5, inverted_residual_setting=setting)
    return model, 32


def mini_mobilenet_v3(large):
    cfg = mobilenetv3.InvertedResidualConfig
    if large:
        setting = [cfg(16, 3, 16, 16, False, "RE", 1, 1, 1), cfg(16, 3, 32, 24, False, "RE", 2, 1, 1),
                   cfg(24, 5, 48, 24, True, "RE", 2, 1, 1), cfg(24, 3, 48, 32, False, "HS", 2, 1, 1),
                   cfg(32, 3, 64, 32, True, "HS", 1, 1, 1)]
    else:
        setting = [cfg(16, 3, 16, 16, True, "RE", 2, 1, 1), cfg(16, 3, 36, 24, False, "RE", 2, 1, 1),
                   cfg(24, 5, 48, 24, True, "HS", 1, 1, 1)]
    return mobilenetv3.MobileNetV3(setting, last_channel=64, num_classes=10), 32


def mini_efficientnet(stochastic=0.0):
    cfg = efficientnet.MBConvConfig
    setting = [cfg(1, 3, 1, 16, 8, 1, 1.0, 1.0), cfg(6, 3, 2, 8, 16, 2, 1.0, 1.0), cfg(6, 5, 2, 16, 24, 1, 1.0, 1.0)]
    return efficientnet.EfficientNet(setting, dropout=0.2, stochastic_depth_prob=stochastic, num_classes=10, last_channel=64), 32


def mini_densenet():
    return tvm.DenseNet(growth_rate=4, block_config=(2, 2), num_init_features=8, bn_size=2, num_classes=10), 32


def mini_regnet():
    params = regnet.BlockParams.from_init_params(depth=3, w_0=8, w_a=8.0, w_m=2.0, group_width=4, se_ratio=0.25)
    return regnet.RegNet(params, num_classes=10, stem_width=8), 32


def mini_convnext():
    return ConvNeXt([CNBlockConfig(8, 16, 1), CNBlockConfig(16, None, 1)], stochastic_depth_prob=0.0, num_classes=10), 32


def mini_vit():
    return VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=32, num_classes=10), 32


def mini_swin():
    return SwinTransformer(patch_size=[4, 4], embed_dim=8, depths=[2, 2], num_heads=[1, 2], window_size=[4, 4],
                           stochastic_depth_prob=0.0, num_classes=10), 32


FAMILIES = {
    "alexnet": mini_alexnet,
    "vgg": lambda: mini_vgg(False),
    "vgg_bn": lambda: mini_vgg(True),
    "resnet_basic": lambda: (mini_resnet(resnet.BasicBlock), 32),
    "resnet_bottleneck": lambda: (mini_resnet(resnet.Bottleneck), 32),
    "resnext": lambda: (mini_resnet(resnet.Bottleneck, groups=4, width=8), 32),
    "wide_resnet": lambda: (mini_resnet(resnet.Bottleneck, width=128), 32),
    "squeezenet1_0": lambda: mini_squeezenet("1_0"),
    "squeezenet1_1": lambda: mini_squeezenet("1_1"),
    "densenet": mini_densenet,
    "mobilenet_v2": mini_mobilenet_v2,
    "mobilenet_v3_small": lambda: mini_mobilenet_v3(False),
    "mobilenet_v3_large": lambda: mini_mobilenet_v3(True),
    "efficientnet": mini_efficientnet,
    "regnet": mini_regnet,
    "convnext": mini_convnext,
    "vit": mini_vit,
    "swin": mini_swin,
}

# Export forms: (suffix, keyword arguments). TorchScript exports use a symbolic batch axis.
FORMS = [("torchscript", dict(dynamo=False, opset_version=17, dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})),
         ("dynamo", dict(dynamo=True))]
# Extra forms for the ResNet pattern: old and new opsets, BatchNormalization left unfolded.
EXTRA = {"resnet_basic": [(f"opset{v}", dict(dynamo=False, opset_version=v, dynamic_axes={"input": {0: "batch"}}))
                          for v in (9, 11, 13)] + [("unfolded_bn", dict(dynamo=False, opset_version=15, do_constant_folding=False,
                                                                        training=torch.onnx.TrainingMode.PRESERVE))]}


def strip(path):
    """Drops doc strings and per-node metadata (the dynamo exporter stores stack traces there)."""
    model = onnx.load(str(path))
    for node in model.graph.node:
        node.doc_string = ""
        del node.metadata_props[:]
    del model.graph.value_info[:]
    model.graph.doc_string = ""
    onnx.save(model, str(path))


def export(name, make):
    torch.manual_seed(0)
    model, size = make()
    model.eval()
    # Non-trivial BatchNorm statistics, so folding mistakes show.
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
    x = torch.randn(2, 3, size, size)
    folder = OUT / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    np.save(folder / "input.npy", x.numpy())
    for form, kwargs in FORMS + EXTRA.get(name, []):
        path = folder / f"{form}.onnx"
        scratch = folder / "scratch"
        scratch.mkdir()
        try:
            torch.onnx.export(model, (x,), str(scratch / "model.onnx"), input_names=["input"], output_names=["logits"], **kwargs)
            onnx.save(onnx.load(str(scratch / "model.onnx")), str(path))  # fold any external data back in
            strip(path)
        except Exception as e:  # an exporter limitation, not Manako's: report and skip
            print(f"{name}/{form}: export failed: {str(e).splitlines()[0][:120]}")
            continue
        finally:
            shutil.rmtree(scratch)
        expected = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": x.numpy()})[0]
        np.save(folder / f"{form}.npy", expected)
        print(f"{name}/{form}: {path.stat().st_size // 1024} KB")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", nargs="*")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    for name, make in FAMILIES.items():
        if not args.only or name in args.only:
            export(name, make)


if __name__ == "__main__":
    main()
