"""Locating and declaring libmanako.so (ctypes)."""
from __future__ import annotations

import ctypes
import os
import pathlib

MAX_RANK = 8


class Options(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("threads", ctypes.c_int32),
        ("max_image_pixels", ctypes.c_int64),
        ("labels_path", ctypes.c_char_p),
        ("preset", ctypes.c_char_p),
        ("max_file_bytes", ctypes.c_int64),
        ("max_tensor_elements", ctypes.c_int64),
        ("max_weight_bytes", ctypes.c_int64),
        ("max_nodes", ctypes.c_int64),
    ]


class CPrediction(ctypes.Structure):
    _fields_ = [("index", ctypes.c_int32), ("probability", ctypes.c_float), ("label", ctypes.c_char_p)]


# `data` is declared void * (the same in the ABI as float *): an array's address then goes in
# as a plain integer, without the costly `ctypes.data_as` object per call.
class CInput(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("data", ctypes.c_void_p),
        ("shape", ctypes.POINTER(ctypes.c_int64)),
        ("rank", ctypes.c_size_t),
    ]


class COutput(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("data", ctypes.c_void_p),
        ("capacity", ctypes.c_size_t),
        ("shape", ctypes.c_int64 * MAX_RANK),
        ("rank", ctypes.c_size_t),
    ]


def candidates() -> list[pathlib.Path]:
    """Where the library is looked for: $MANAKO_LIBRARY, next to this package, then the
    release build folder of a Manako checkout above this package or the working directory."""
    found: list[pathlib.Path] = []
    env = os.environ.get("MANAKO_LIBRARY")
    if env:
        found.append(pathlib.Path(env))
    here = pathlib.Path(__file__).resolve().parent
    found.append(here / "libmanako.so")
    for start in (here, pathlib.Path.cwd().resolve()):
        for folder in (start, *start.parents):
            candidate = folder / ".build" / "static" / "release" / "libmanako.so"
            if candidate.exists():
                found.append(candidate)
    return found


def load() -> ctypes.CDLL:
    tried = candidates()
    for path in tried:
        if path.exists():
            return declare(ctypes.CDLL(str(path)))
    raise OSError(
        "libmanako.so not found; set MANAKO_LIBRARY or build it with scripts/build. Tried: "
        + ", ".join(str(p) for p in tried)
    )


def declare(lib: ctypes.CDLL) -> ctypes.CDLL:
    status = ctypes.c_int
    model = ctypes.c_void_p
    size = ctypes.c_size_t
    p = ctypes.POINTER
    signatures = {
        "manako_version": (ctypes.c_char_p, []),
        "manako_last_error": (ctypes.c_char_p, []),
        "manako_options_init": (status, [p(Options)]),
        "manako_model_load": (status, [ctypes.c_char_p, p(Options), p(model)]),
        "manako_model_load_memory": (status, [ctypes.c_void_p, size, p(Options), p(model)]),
        "manako_model_free": (status, [p(model)]),
        "manako_model_io_count": (status, [model, p(size), p(size)]),
        "manako_model_input_info": (status, [model, size, p(ctypes.c_char_p), p(ctypes.c_int64), size, p(size)]),
        "manako_model_output_info": (status, [model, size, p(ctypes.c_char_p), p(ctypes.c_int64), size, p(size)]),
        "manako_model_run": (status, [model, p(CInput), size, p(COutput), size]),
        "manako_model_classify_file": (status, [model, ctypes.c_char_p, p(CPrediction), size, p(size)]),
        "manako_model_classify_encoded": (status, [model, ctypes.c_void_p, size, p(CPrediction), size, p(size)]),
        "manako_model_preprocess_file": (status, [model, ctypes.c_char_p, p(COutput)]),
        "manako_model_preprocess_encoded": (status, [model, ctypes.c_void_p, size, p(COutput)]),
        "manako_model_preprocess_pixels": (
            status, [model, ctypes.c_void_p, size, ctypes.c_int32, ctypes.c_int32, size, ctypes.c_int, p(COutput)]),
        "manako_model_classify_pixels": (
            status,
            [model, ctypes.c_void_p, size, ctypes.c_int32, ctypes.c_int32, size, ctypes.c_int, p(CPrediction), size, p(size)],
        ),
    }
    for name, (restype, argtypes) in signatures.items():
        function = getattr(lib, name)
        function.restype = restype
        function.argtypes = argtypes
    return lib
