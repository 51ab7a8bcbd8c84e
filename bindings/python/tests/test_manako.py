"""Tests of the Python binding: results agree with the other doors and errors are raised."""
import pathlib
import threading

import numpy as np
import pytest

import manako

ROOT = pathlib.Path(__file__).resolve().parents[3]
MODEL = ROOT / "Resources/efficientnet-lite0.onnx"
IMAGE = ROOT / "Resources/chelsea.png"
FIXTURES = ROOT / "Tests/ManakoTests/Fixtures"


@pytest.fixture(scope="module")
def model():
    with manako.Model(MODEL, threads=1) as m:
        yield m


def test_version():
    assert manako.version().count(".") == 2


def test_inputs_and_outputs(model):
    assert model.inputs == [manako.TensorInfo("input", (1, 3, 224, 224))]
    assert model.outputs[0].name == "logits" and model.outputs[0].shape[-1] == 1000


def test_classify_path_gives_the_reference_top5(model):
    top = model.classify(IMAGE)
    # ONNX Runtime with PIL preprocessing (the shared README's reference figures).
    assert [p.index for p in top] == [282, 285, 281, 287, 904]
    assert [round(p.probability * 100, 1) for p in top] == [38.5, 36.3, 16.7, 1.7, 0.1]
    assert top[0].label == "tiger cat"


def test_every_image_form_agrees(model):
    from PIL import Image

    reference = model.classify(str(IMAGE), top_k=3)
    pil = Image.open(IMAGE)
    rgb = np.asarray(pil.convert("RGB"))
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 9, np.uint8)])
    for form in (IMAGE.read_bytes(), pil, rgb, rgba, rgb[:, :, :]):
        top = model.classify(form, top_k=3)
        assert [p.index for p in top] == [p.index for p in reference]
        assert np.allclose([p.probability for p in top], [p.probability for p in reference], atol=1e-6)


def test_gray_and_strided_arrays(model):
    gray = np.asarray(__import__("PIL.Image", fromlist=["Image"]).open(IMAGE).convert("L"))
    assert len(model.classify(gray, top_k=2)) == 2
    padded = np.zeros((300, 460, 3), np.uint8)
    view = padded[:, 5:456]  # non-contiguous rows
    view[:] = np.asarray(__import__("PIL.Image", fromlist=["Image"]).open(IMAGE).convert("RGB"))
    assert model.classify(view, top_k=1)[0].index == model.classify(IMAGE, top_k=1)[0].index


def test_run_matches_onnx_runtime_logits(model):
    pixels = np.load(FIXTURES / "chelsea_pil_224.npy")  # Pillow's crop + bicubic resize
    x = ((pixels.astype(np.float32) - 127) / 128).transpose(2, 0, 1)[None].copy()
    expected = np.load(FIXTURES / "chelsea_logits_ort.npy")
    out = model.run(x)
    assert out["logits"].shape == (1, 1000)
    np.testing.assert_allclose(out["logits"], expected, rtol=1e-4, atol=1e-4)
    assert model.run({"input": x})["logits"].shape == (1, 1000)


def test_outputs_larger_than_the_batch_suggests(tmp_path):
    """An output whose symbolic size is not the batch: the first call learns it (a second run
    inside `run`), later calls allocate it at once; a new input shape is its own signature."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper
    graph = helper.make_graph(
        [helper.make_node("Reshape", ["x", "flat"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["m"])],
        [numpy_helper.from_array(np.array([-1], dtype=np.int64), "flat")])
    path = tmp_path / "flatten.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    with manako.Model(path) as m:
        for rows in (3, 3, 5, 3):
            x = np.arange(rows * 4, dtype=np.float32).reshape(rows, 4)
            y = m.run(x)["y"]
            assert y.shape == (rows * 4,) and np.array_equal(y, x.ravel())


def test_inputs_are_read_in_place_and_left_unchanged(tmp_path):
    """Aligned inputs are read where they are, unaligned ones copied: an output that is the input
    itself (Identity) and one computed from it (Relu) come out the same either way, and the
    caller's array is never written, even over repeated runs that recycle buffers."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["same"]), helper.make_node("Relu", ["x"], ["positive"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 300])],
        [helper.make_tensor_value_info("same", TensorProto.FLOAT, [2, 300]),
         helper.make_tensor_value_info("positive", TensorProto.FLOAT, [2, 300])])
    path = tmp_path / "identity.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    x = np.random.default_rng(3).standard_normal((2, 300)).astype(np.float32)
    storage = np.zeros(601 + 16, dtype=np.float32)
    with manako.Model(path) as m:
        for offset in (0, 1, 2, 3, 0, 1):
            start = (-storage.ctypes.data // 4) % 4 + offset  # 16-byte aligned plus `offset` floats
            fed = storage[start:start + 600].reshape(2, 300)
            fed[...] = x
            assert (fed.ctypes.data % 16 == 0) == (offset == 0)
            out = m.run(fed)
            assert np.array_equal(out["same"], x) and np.array_equal(out["positive"], np.maximum(x, 0))
            assert np.array_equal(fed, x), "the run wrote into its input"
            assert not np.shares_memory(out["same"], fed)


def test_an_output_buffer_over_the_input(tmp_path):
    """Through the C ABI, an output buffer that is the input's own memory: outputs are written in
    order, so a first output written over the input must not change a later output that is the
    input itself (Identity). The input is copied when it shares memory with an output."""
    onnx = pytest.importorskip("onnx")
    import ctypes
    from onnx import TensorProto, helper
    from manako import _library
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["positive"]), helper.make_node("Identity", ["x"], ["same"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [8])],
        [helper.make_tensor_value_info("positive", TensorProto.FLOAT, [8]),
         helper.make_tensor_value_info("same", TensorProto.FLOAT, [8])])
    path = tmp_path / "aliased.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    x = np.array([-3, -2, -1, 0, 1, 2, 3, 4], dtype=np.float32)
    with manako.Model(path) as m:
        shared = np.zeros(16 + 8, dtype=np.float32)
        start = (-shared.ctypes.data // 4) % 4  # 16-byte aligned: read in place unless it overlaps
        buffer = shared[start:start + 8]
        buffer[...] = x
        same = np.zeros(8, dtype=np.float32)
        shape = (ctypes.c_int64 * 1)(8)
        c_input = (_library.CInput * 1)()
        c_input[0].name, c_input[0].data, c_input[0].shape, c_input[0].rank = None, buffer.ctypes.data, shape, 1
        outputs = (_library.COutput * 2)()
        outputs[0].data, outputs[0].capacity = buffer.ctypes.data, 8
        outputs[1].data, outputs[1].capacity = same.ctypes.data, 8
        assert m._lib.manako_model_run(m._live(), c_input, 1, outputs, 2) == 0
        assert np.array_equal(buffer, np.maximum(x, 0)) and np.array_equal(same, x)


def test_load_from_bytes():
    with manako.Model(MODEL.read_bytes()) as m:
        assert m.classify(IMAGE, top_k=1)[0].index == 282


def test_errors_carry_status_and_message(model, tmp_path):
    with pytest.raises(manako.ManakoError) as e:
        manako.Model(tmp_path / "missing.onnx")
    assert e.value.status == manako.Status.IO_ERROR and "missing.onnx" in e.value.message
    with pytest.raises(manako.ManakoError) as e:
        manako.Model(b"not a model")
    assert e.value.status == manako.Status.INVALID_MODEL
    with pytest.raises(manako.ManakoError) as e:
        model.classify(b"\x89PNG\r\n\x1a\n truncated")
    assert e.value.status == manako.Status.INVALID_IMAGE
    with pytest.raises(manako.ManakoError) as e:
        model.run(np.zeros((1, 3, 100, 100), np.float32))
    assert e.value.status == manako.Status.SHAPE_MISMATCH and "input" in e.value.message
    with pytest.raises(ValueError):
        model.classify(np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(TypeError):
        model.classify(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(manako.ManakoError) as e:
        manako.Model(MODEL, max_image_pixels=1000).classify(IMAGE)
    assert e.value.status == manako.Status.LIMIT_EXCEEDED


def test_closed_model_raises():
    m = manako.Model(MODEL)
    m.close()
    m.close()  # idempotent
    with pytest.raises(manako.ManakoError):
        m.classify(IMAGE)


def test_threads_share_one_model(model):
    expected = model.classify(IMAGE, top_k=5)
    results = []

    def work():
        results.append(model.classify(IMAGE, top_k=5))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [expected] * 4


def test_preprocess_matches_pillow_pipeline(model):
    pixels = np.load(FIXTURES / "chelsea_pil_224.npy")  # Pillow's crop + bicubic resize
    expected = ((pixels.astype(np.float32) - 127) / 128).transpose(2, 0, 1)[None]
    for form in (IMAGE, IMAGE.read_bytes(), np.asarray(__import__("PIL.Image", fromlist=["Image"]).open(IMAGE).convert("RGB"))):
        x = model.preprocess(form)
        assert x.shape == (1, 3, 224, 224) and x.dtype == np.float32
        np.testing.assert_allclose(x, expected, atol=1e-6)


def test_jpeg_classifies_like_png(model, tmp_path):
    from PIL import Image

    jpeg = tmp_path / "chelsea.jpg"
    Image.open(IMAGE).convert("RGB").save(jpeg, quality=95)
    assert model.classify(jpeg, top_k=1)[0].index in range(281, 286)


def test_preset_option_and_config(tmp_path):
    with manako.Model(MODEL, preset="keras-tf") as keras_like:
        x = keras_like.preprocess(IMAGE)
        assert x.shape == (1, 3, 224, 224)  # the model's NCHW input shape decides the size
        assert x.min() >= -1 and x.max() <= 1
    config = '{"preset": "torchvision", "interpolation": "bicubic"}'
    with manako.Model(MODEL, preset=config) as configured:
        assert configured.classify(IMAGE, top_k=1)[0].index in range(281, 286)
    with pytest.raises(manako.ManakoError) as e:
        manako.Model(MODEL, preset='{"nonsense": 1}')
    assert e.value.status == manako.Status.INVALID_ARGUMENT and "nonsense" in e.value.message
