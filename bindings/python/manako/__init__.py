"""Manako: image classification with ONNX models on the CPU.

>>> import manako
>>> with manako.Model("Resources/efficientnet-lite0.onnx") as model:
...     print(model.classify("Resources/chelsea.png", top_k=3))
"""
from __future__ import annotations

import ctypes
import enum
import math
import os
import threading
from typing import Any, Mapping, NamedTuple, Optional, Union

import numpy as np

from . import _library

__all__ = ["Model", "Prediction", "TensorInfo", "ManakoError", "Status", "version"]

_lib: Optional[ctypes.CDLL] = None
_lib_lock = threading.Lock()


def _get_lib() -> ctypes.CDLL:
    global _lib
    with _lib_lock:
        if _lib is None:
            _lib = _library.load()
        return _lib


class Status(enum.IntEnum):
    """The C ABI's manako_status."""
    OK = 0
    INVALID_ARGUMENT = 1
    INVALID_MODEL = 2
    UNSUPPORTED_OPERATOR = 3
    SHAPE_MISMATCH = 4
    IO_ERROR = 5
    INVALID_IMAGE = 6
    LIMIT_EXCEEDED = 7
    BUFFER_TOO_SMALL = 8
    INTERNAL_ERROR = 9


class ManakoError(Exception):
    """A failed Manako call: `status` says what kind, `message` what and where."""

    def __init__(self, status: int, message: str) -> None:
        try:
            self.status: Union[Status, int] = Status(status)
        except ValueError:
            self.status = status
        self.message = message
        super().__init__(f"{getattr(self.status, 'name', self.status)}: {message}")


def _check(status: int) -> None:
    if status != 0:
        message = _get_lib().manako_last_error()
        raise ManakoError(status, message.decode("utf-8", "replace") if message else "")


class Prediction(NamedTuple):
    index: int
    label: Optional[str]
    probability: float


class TensorInfo(NamedTuple):
    name: str
    #: Dimensions; None for a symbolic one (such as a batch size).
    shape: tuple


PathLike = Union[str, "os.PathLike[str]"]
ImageLike = Union[PathLike, bytes, bytearray, memoryview, np.ndarray, Any]


def version() -> str:
    """The version of the loaded libmanako."""
    return _get_lib().manako_version().decode()


class Model:
    """An ONNX model loaded by Manako. Thread-safe: one model may serve many threads.

    `source` is a path or the model's bytes. `threads` sets the worker threads, `labels` a
    labels file overriding the model's own, `preset` a preprocessing preset overriding the
    model's metadata. The limits bound what a file may make Manako read or allocate (None keeps
    the library default): `max_image_pixels` (100 M), `max_file_bytes` (4 GiB, model and
    external-data files), `max_tensor_elements` (2**28, any stored or computed tensor),
    `max_weight_bytes` (4 GiB of decoded weights) and `max_nodes` (100,000). Going over one
    raises ManakoError with Status.LIMIT_EXCEEDED.
    """

    def __init__(self, source: Union[PathLike, bytes, bytearray], threads: Optional[int] = None,
                 labels: Optional[PathLike] = None, preset: Optional[str] = None,
                 max_image_pixels: Optional[int] = None, max_file_bytes: Optional[int] = None,
                 max_tensor_elements: Optional[int] = None, max_weight_bytes: Optional[int] = None,
                 max_nodes: Optional[int] = None) -> None:
        lib = _get_lib()
        self._lib = lib
        self._handle = ctypes.c_void_p()
        options = _library.Options()
        _check(lib.manako_options_init(ctypes.byref(options)))
        if threads is not None:
            if threads < 1:
                raise ValueError("threads must be at least 1")
            options.threads = threads
        limits = {"max_image_pixels": max_image_pixels, "max_file_bytes": max_file_bytes,
                  "max_tensor_elements": max_tensor_elements, "max_weight_bytes": max_weight_bytes,
                  "max_nodes": max_nodes}
        for name, value in limits.items():
            if value is not None:
                if not 1 <= value < 2**63:
                    raise ValueError(f"{name} must be at least 1, got {value}")
                setattr(options, name, value)
        if labels is not None:
            options.labels_path = os.fsencode(labels)
        if preset is not None:
            options.preset = preset.encode()
        if isinstance(source, (bytes, bytearray, memoryview)):
            data = bytes(source)
            _check(lib.manako_model_load_memory(data, len(data), ctypes.byref(options), ctypes.byref(self._handle)))
        else:
            _check(lib.manako_model_load(os.fsencode(source), ctypes.byref(options), ctypes.byref(self._handle)))
        self._prepared: dict = {}
        self.inputs = self._describe(lib.manako_model_input_info, 0)
        self.outputs = self._describe(lib.manako_model_output_info, 1)

    def _describe(self, function, which: int) -> list:
        counts = (ctypes.c_size_t(), ctypes.c_size_t())
        _check(self._lib.manako_model_io_count(self._handle, ctypes.byref(counts[0]), ctypes.byref(counts[1])))
        infos = []
        for i in range(counts[which].value):
            name = ctypes.c_char_p()
            shape = (ctypes.c_int64 * _library.MAX_RANK)()
            rank = ctypes.c_size_t()
            _check(function(self._handle, i, ctypes.byref(name), shape, _library.MAX_RANK, ctypes.byref(rank)))
            dims = tuple(None if shape[d] < 0 else int(shape[d]) for d in range(rank.value))
            infos.append(TensorInfo(name.value.decode(), dims))
        return infos

    def _live(self) -> ctypes.c_void_p:
        if not self._handle:
            raise ManakoError(Status.INVALID_ARGUMENT, "the model is closed")
        return self._handle

    def close(self) -> None:
        """Releases the model; further calls raise ManakoError."""
        if getattr(self, "_handle", None):
            self._lib.manako_model_free(ctypes.byref(self._handle))

    def __enter__(self) -> "Model":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def run(self, inputs: Union[np.ndarray, Mapping[str, np.ndarray]]) -> dict:
        """Runs the raw graph on float32 arrays; a single array feeds the only input.
        Returns {output name: numpy array}."""
        handle = self._live()
        if not isinstance(inputs, Mapping):
            if len(self.inputs) != 1:
                raise ManakoError(Status.INVALID_ARGUMENT, f"the model has {len(self.inputs)} inputs; pass a dict")
            inputs = {self.inputs[0].name: inputs}
        arrays = [(name, np.ascontiguousarray(value, dtype=np.float32)) for name, value in inputs.items()]
        signature = tuple((name, array.shape) for name, array in arrays)
        prepared = self._prepared.get(signature) or self._prepare(signature)
        # Fresh records per call (the model may serve several threads at once); the encoded
        # names and shapes they point at are the signature's, built once.
        c_inputs = (_library.CInput * max(1, len(arrays)))()
        for record, (encoded, shape, rank), (_, array) in zip(c_inputs, prepared.inputs, arrays):
            record.name, record.data, record.shape, record.rank = encoded, array.ctypes.data, shape, rank
        outputs = (_library.COutput * len(self.outputs))()
        buffers = [np.empty(size, dtype=np.float32) for size in prepared.output_sizes]
        for record, buffer, size in zip(outputs, buffers, prepared.output_sizes):
            record.data, record.capacity = buffer.ctypes.data, size
        status = self._lib.manako_model_run(handle, c_inputs, len(arrays), outputs, len(self.outputs))
        if status == Status.BUFFER_TOO_SMALL:
            # A symbolic output dimension that the batch size did not give: size from the shapes
            # the failed call reported, and remember them for the next call.
            for i, record in enumerate(outputs):
                size = math.prod(record.shape[d] for d in range(record.rank))
                prepared.output_sizes[i] = max(prepared.output_sizes[i], size)
                buffers[i] = np.empty(size, dtype=np.float32)
                record.data, record.capacity = buffers[i].ctypes.data, size
            status = self._lib.manako_model_run(handle, c_inputs, len(arrays), outputs, len(self.outputs))
        _check(status)
        result = {}
        for info, record, buffer in zip(self.outputs, outputs, buffers):
            dims = tuple(record.shape[d] for d in range(record.rank))
            result[info.name] = buffer[:math.prod(dims)].reshape(dims)
        return result

    class _Prepared(NamedTuple):
        """What `run` builds once per input signature (names and shapes)."""
        #: Per input: the encoded name, the ctypes shape array, the rank.
        inputs: list
        #: Per output: the floats to allocate, from its declared shape with a symbolic dimension
        #: taking the batch size, raised when a call reports more.
        output_sizes: list

    def _prepare(self, signature: tuple) -> "Model._Prepared":
        inputs = [(name.encode(), (ctypes.c_int64 * max(1, len(shape)))(*shape), len(shape)) for name, shape in signature]
        batch = signature[0][1][0] if signature and signature[0][1] else 1
        sizes = [int(np.prod([batch if d is None else d for d in info.shape])) if info.shape else 1 for info in self.outputs]
        prepared = Model._Prepared(inputs, sizes)
        if len(self._prepared) >= 64:  # a caller cycling through many shapes: keep the cache bounded
            self._prepared.clear()
        self._prepared[signature] = prepared
        return prepared

    def _call_with_image(self, image: ImageLike, on_file, on_encoded, on_pixels, *rest) -> int:
        """Calls the C function for the image's form: path, encoded bytes, or a pixel array / PIL image."""
        handle = self._live()
        if isinstance(image, (str, os.PathLike)):
            return on_file(handle, os.fsencode(image), *rest)
        if isinstance(image, (bytes, bytearray, memoryview)):
            data = bytes(image)
            return on_encoded(handle, data, len(data), *rest)
        if not isinstance(image, np.ndarray) and hasattr(image, "convert") and hasattr(image, "size"):
            image = np.asarray(image.convert("RGB"))  # a PIL image
        if not isinstance(image, np.ndarray):
            raise TypeError(f"cannot use a {type(image).__name__} as an image: pass a path, bytes, a uint8 array or a PIL image")
        if image.dtype != np.uint8:
            raise TypeError(f"pixel arrays must be uint8, got {image.dtype}")
        if image.ndim == 2:
            pixel_format = 4  # MANAKO_PIXEL_GRAY
        elif image.ndim == 3 and image.shape[2] == 3:
            pixel_format = 0  # MANAKO_PIXEL_RGB
        elif image.ndim == 3 and image.shape[2] == 4:
            pixel_format = 2  # MANAKO_PIXEL_RGBA
        else:
            raise ValueError(f"pixel arrays must be HxW, HxWx3 or HxWx4, got shape {image.shape}")
        image = np.ascontiguousarray(image)
        height, width = image.shape[:2]
        return on_pixels(handle, image.ctypes.data, image.nbytes, width, height, image.strides[0], pixel_format, *rest)

    def classify(self, image: ImageLike, top_k: int = 5) -> list:
        """Classifies a path, encoded bytes (PNG or JPEG), an HxW / HxWx3 (RGB) / HxWx4 (RGBA)
        uint8 array, or a PIL image, with the model's preprocessing. Returns the best `top_k`
        Predictions."""
        if top_k < 1:
            raise ValueError("top_k must be at least 1")
        predictions = (_library.CPrediction * top_k)()
        count = ctypes.c_size_t()
        lib = self._lib
        _check(self._call_with_image(image, lib.manako_model_classify_file, lib.manako_model_classify_encoded,
                                     lib.manako_model_classify_pixels, predictions, top_k, ctypes.byref(count)))
        return [
            Prediction(int(p.index), p.label.decode() if p.label else None, float(p.probability))
            for p in predictions[: count.value]
        ]

    def preprocess(self, image: ImageLike) -> np.ndarray:
        """The float32 input tensor (batch of one) the model's preprocessing makes of an image, as
        classify feeds it: for comparing with a training pipeline. Same image forms as classify."""
        lib = self._lib
        shape = self.inputs[0].shape if self.inputs else ()
        size = int(np.prod(shape)) if shape and None not in shape else 0
        for _ in range(2):  # an unknown size is learnt from the first call
            buffer = np.empty(size, dtype=np.float32)
            output = _library.COutput(None, buffer.ctypes.data, size)
            status = self._call_with_image(image, lib.manako_model_preprocess_file, lib.manako_model_preprocess_encoded,
                                           lib.manako_model_preprocess_pixels, ctypes.byref(output))
            dims = [output.shape[d] for d in range(output.rank)]
            if status == Status.BUFFER_TOO_SMALL and size < int(np.prod(dims)):
                size = int(np.prod(dims))
                continue
            _check(status)
            return buffer[: int(np.prod(dims))].reshape(dims)
        raise ManakoError(Status.INTERNAL_ERROR, "the tensor size changed between calls")
