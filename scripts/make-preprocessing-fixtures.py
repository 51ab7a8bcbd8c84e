#!/usr/bin/env python3
"""Records what the training frameworks' own preprocessing produces, for Manako's fidelity tests
(Tests/ManakoImageTests/Preprocessing). Needs torch, torchvision, timm, keras (any backend),
opencv-python-headless, pillow: run it in the fixture virtualenv (see README).

- <pipeline>_small.npy: float32 tensor of the sample photo at a 32x32 (or 36x28) target, as the
  framework makes it. Manako must match within 1e-5. coffee_<pipeline>_small.npy: the same for
  coffee.jpg (a second real photo, as a JPEG; committed, see NOTICE).
- <preset>_224.npy: the 8-bit image at 224x224 after the preset's resize and crop, on the sample.
- synthetic_<w>x<h>_<pipeline>.npy: odd sizes (1x1, 3x1000, 1000x3, 4000x3000) of a synthetic
  image Swift regenerates (pixel = (7x + 13y + 29c + (x*y) % 17) % 256), through 32x32 targets.
"""
import os
import pathlib

os.environ.setdefault("KERAS_BACKEND", "torch")
import cv2  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import timm.data  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from torchvision import transforms as T  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests/ManakoImageTests/Preprocessing"
SAMPLE = ROOT / "Resources/chelsea.png"
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def synthetic(w, h):
    y, x = np.mgrid[0:h, 0:w].astype(np.int64)
    return np.stack([(7 * x + 13 * y + 29 * c + (x * y) % 17) % 256 for c in range(3)], axis=-1).astype(np.uint8)


def torchvision_tensor(image, resize, crop):
    return T.Compose([T.Resize(resize), T.CenterCrop(crop), T.ToTensor(), T.Normalize(MEAN, STD)])(image).numpy()[None]


def keras_tensor(path_or_image, size, mode):
    if isinstance(path_or_image, Image.Image):
        image = path_or_image.resize((size[1], size[0]), Image.NEAREST)  # what load_img does
    else:
        image = keras.utils.load_img(path_or_image, target_size=size)
    x = keras.utils.img_to_array(image)[None]
    return np.asarray(keras.applications.imagenet_utils.preprocess_input(x, mode=mode), np.float32)


def timm_tensor(image, config):
    return timm.data.create_transform(**config, is_training=False)(image).numpy()[None]


def opencv_image(array, size, interpolation):
    return cv2.resize(array, size, interpolation=interpolation)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    photo = Image.open(SAMPLE).convert("RGB")
    # Small float tensors from each framework (compared at 1e-5).
    np.save(OUT / "torchvision_small.npy", torchvision_tensor(photo, 36, 32))
    for mode in ("caffe", "tf", "torch"):
        np.save(OUT / f"keras-{mode}_small.npy", keras_tensor(str(SAMPLE), (28, 36), mode))
    timm_config = timm.data.resolve_data_config({}, model=timm.create_model("deit_tiny_patch16_224", pretrained=False))
    timm_config["input_size"] = (3, 32, 32)
    np.save(OUT / "timm_small.npy", timm_tensor(photo, timm_config))
    (OUT / "timm_config.json").write_text(
        '{"input_size": [3, 32, 32], "interpolation": "%s", "crop_pct": %r, "mean": %s, "std": %s}\n'
        % (timm_config["interpolation"], timm_config["crop_pct"], list(timm_config["mean"]), list(timm_config["std"])))
    coffee_path = OUT / "coffee.jpg"
    coffee = Image.open(coffee_path).convert("RGB")
    np.save(OUT / "coffee_torchvision_small.npy", torchvision_tensor(coffee, 36, 32))
    np.save(OUT / "coffee_keras-caffe_small.npy", keras_tensor(str(coffee_path), (28, 36), "caffe"))
    np.save(OUT / "coffee_timm_small.npy", timm_tensor(coffee, timm_config))
    # The presets' 8-bit images at full size.
    np.save(OUT / "torchvision_224.npy", np.asarray(T.CenterCrop(224)(T.Resize(256)(photo))))
    np.save(OUT / "keras_224.npy", np.asarray(keras.utils.load_img(str(SAMPLE), target_size=(224, 224))))
    # OpenCV (no antialiasing), on the photo's pixels.
    array = np.asarray(photo)
    for name, flag in (("nearest", cv2.INTER_NEAREST), ("bilinear", cv2.INTER_LINEAR), ("bicubic", cv2.INTER_CUBIC)):
        np.save(OUT / f"opencv_{name}_64x40.npy", opencv_image(array, (64, 40), flag))
        np.save(OUT / f"opencv_{name}_upscaled.npy", opencv_image(array[100:160, 200:280], (120, 90), flag))
    # Odd sizes through the pipelines, on a synthetic image.
    for w, h in ((1, 1), (3, 1000), (1000, 3), (4000, 3000)):
        image = Image.fromarray(synthetic(w, h))
        np.save(OUT / f"synthetic_{w}x{h}_torchvision.npy", torchvision_tensor(image, 36, 32))
        np.save(OUT / f"synthetic_{w}x{h}_keras-torch.npy", keras_tensor(image, (32, 32), "torch"))
    print(f"wrote {len(list(OUT.iterdir()))} files, {sum(f.stat().st_size for f in OUT.iterdir()) // 1024} KB")


if __name__ == "__main__":
    main()
