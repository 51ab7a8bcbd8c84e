"""Hostile inputs, limits and concurrency through the Python binding (Tests/Malformed/cases.tsv)."""
import os
import pathlib
import threading

import numpy as np
import pytest

import manako

ROOT = pathlib.Path(__file__).resolve().parents[3]
MODEL = ROOT / "Resources/efficientnet-lite0.onnx"
IMAGE = ROOT / "Resources/chelsea.png"
MALFORMED = ROOT / "Tests/Malformed"
IMAGES = ROOT / "Tests/ManakoImageTests/Fixtures"


def cases():
    for line in (MALFORMED / "cases.tsv").read_text().splitlines():
        if not line.startswith("#"):
            kind, file, status, fragment = line.split("\t")
            yield pytest.param(kind, file, status, fragment, id=file)


@pytest.fixture(scope="module")
def model():
    with manako.Model(MODEL, threads=1) as m:
        yield m


@pytest.mark.parametrize("kind, file, status, fragment", list(cases()))
def test_hostile_input_raises_its_status(model, kind, file, status, fragment):
    path = MALFORMED / file
    with pytest.raises(manako.ManakoError) as e:
        if kind == "image":
            model.classify(path)
        elif kind == "load":
            manako.Model(path)
        else:
            manako.Model(path).run(np.zeros((1, 3, 8, 8), np.float32))
    assert e.value.status == manako.Status[status], e.value.message
    assert fragment in e.value.message


def test_hostile_model_bytes_from_memory():
    for name in ["truncated_header.onnx", "huge_dims.onnx", "cycle.onnx"]:
        with pytest.raises(manako.ManakoError) as e:
            manako.Model((MALFORMED / "models" / name).read_bytes())
        assert e.value.status in (manako.Status.INVALID_MODEL, manako.Status.LIMIT_EXCEEDED)


@pytest.mark.parametrize("option, value, fragment", [
    ("max_file_bytes", 1_000_000, "over the limit of 1000000 bytes"),
    ("max_tensor_elements", 1_000_000, "maxTensorElements"),
    ("max_weight_bytes", 10_000_000, "maxWeightBytes"),
    ("max_nodes", 50, "maxNodes"),
])
def test_each_limit_is_an_option(option, value, fragment):
    with pytest.raises(manako.ManakoError) as e:
        manako.Model(MODEL, **{option: value})
    assert e.value.status == manako.Status.LIMIT_EXCEEDED and fragment in e.value.message
    with pytest.raises(ValueError):
        manako.Model(MODEL, **{option: 0})


def test_element_limit_holds_at_run_time():
    m = manako.Model(MALFORMED / "models/expand_huge.onnx", max_tensor_elements=1000)
    with pytest.raises(manako.ManakoError) as e:
        m.run(np.zeros((1, 3, 8, 8), np.float32))
    assert e.value.status == manako.Status.LIMIT_EXCEEDED and "limit of 1000" in e.value.message


def test_fifo_is_refused_without_blocking(model, tmp_path):
    fifo = tmp_path / "fifo.png"
    os.mkfifo(fifo)
    with pytest.raises(manako.ManakoError) as e:
        model.classify(fifo)
    assert e.value.status == manako.Status.IO_ERROR


def test_eight_python_threads_get_the_single_threaded_results():
    images = [IMAGE] + [IMAGES / n for n in ["rgb.png", "gray.png", "palette.png", "jpeg_baseline_420.jpg",
                                             "jpeg_progressive.jpg", "jpeg_cmyk.jpg", "interlaced.png"]]
    with manako.Model(MODEL, threads=2) as shared:
        expected = [shared.classify(i) for i in images]
        failures = []

        def work(first):
            for round_ in range(3):
                for k in range(len(images)):
                    i = (first + k + round_) % len(images)
                    if shared.classify(images[i]) != expected[i]:  # exact: same bits, not merely close
                        failures.append(images[i])

        threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert failures == []


def test_models_with_different_thread_counts_side_by_side():
    with manako.Model(MODEL, threads=1) as one, manako.Model(MODEL, threads=2) as two:
        expected = one.classify(IMAGE)
        results = {}

        def work(name, m):
            results[name] = [m.classify(IMAGE) for _ in range(5)]

        threads = [threading.Thread(target=work, args=(n, m)) for n, m in [("one", one), ("two", two)]]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results["one"] == [expected] * 5 and results["two"] == [expected] * 5
