#!/usr/bin/env python3
"""Soak test: many threads classify images through one shared model for a long time, while
another thread keeps loading, using and freeing models and feeding hostile inputs. Every answer
must equal the single-threaded reference; throughput and memory are reported.

    python3 scripts/soak.py --minutes 10 [--threads 8] [--model M] [--library PATH]

Exits 1 on any wrong answer, unexpected error or memory growth over --max-growth-mb (default 64)
between the end of the first minute (or tenth of the run) and the end.
"""
import argparse
import os
import pathlib
import resource
import sys
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bindings/python"))

import numpy as np  # noqa: E402

import manako  # noqa: E402

FIXTURES = ROOT / "Tests/ManakoImageTests/Fixtures"
IMAGES = [ROOT / "Resources/chelsea.png"] + [FIXTURES / n for n in [
    "rgb.png", "gray.png", "palette.png", "interlaced.png", "jpeg_baseline_420.jpg", "jpeg_progressive.jpg", "jpeg_cmyk.jpg"]]
HOSTILE = sorted((ROOT / "Tests/Malformed/images").iterdir())


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--model", default=str(ROOT / "Resources/efficientnet-lite0.onnx"))
    parser.add_argument("--library", help="libmanako.so to use (default: the package's search)")
    parser.add_argument("--max-growth-mb", type=float, default=64)
    args = parser.parse_args()
    if args.library:
        os.environ["MANAKO_LIBRARY"] = args.library

    shared = manako.Model(args.model, threads=2)
    forms = [(path, path) for path in IMAGES] + [(path.name + " bytes", path.read_bytes()) for path in IMAGES[:3]]
    expected = {name: shared.classify(form) for name, form in forms}
    deadline = time.monotonic() + args.minutes * 60
    counts, problems, lock = [0] * args.threads, [], threading.Lock()

    def classify_forever(t: int) -> None:
        i = t
        while time.monotonic() < deadline:
            name, form = forms[i % len(forms)]
            try:
                if shared.classify(form) != expected[name]:
                    with lock:
                        problems.append(f"thread {t}: different answer for {name}")
            except Exception as error:  # any exception is a failure here
                with lock:
                    problems.append(f"thread {t}: {name}: {error!r}")
            counts[t] += 1
            i += 1

    churn = {"loads": 0, "hostile": 0}

    def churn_forever() -> None:
        try:
            churn_until_deadline()
        except Exception as error:
            problems.append(f"churn thread: {error!r}")

    def churn_until_deadline() -> None:
        # Models come and go while the shared one serves; hostile images must fail cleanly.
        while time.monotonic() < deadline:
            with manako.Model(args.model, threads=1) as m:
                if m.classify(IMAGES[0]) != expected[IMAGES[0]]:
                    problems.append("a freshly loaded model answered differently")
                for path in HOSTILE:
                    try:
                        m.classify(path)
                        problems.append(f"hostile {path.name} was accepted")
                    except manako.ManakoError:
                        churn["hostile"] += 1
            churn["loads"] += 1

    workers = [threading.Thread(target=classify_forever, args=(t,)) for t in range(args.threads)]
    workers.append(threading.Thread(target=churn_forever))
    started = time.monotonic()
    for w in workers:
        w.start()
    settle_at = started + min(60, args.minutes * 6)
    settled_rss = None
    while any(w.is_alive() for w in workers):
        time.sleep(1)
        if settled_rss is None and time.monotonic() >= settle_at:
            settled_rss = rss_mb()
    for w in workers:
        w.join()
    elapsed = time.monotonic() - started
    final_rss = rss_mb()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    total = sum(counts)
    growth = final_rss - (settled_rss or final_rss)
    print(f"soak: {elapsed / 60:.1f} min, {args.threads} threads on one model (2 worker threads) + a churn thread")
    print(f"  {total} classifications, {total / elapsed:.1f} per second; {churn['loads']} models loaded and freed, "
          f"{churn['hostile']} hostile images refused")
    print(f"  RSS {settled_rss or 0:.0f} MB after settling, {final_rss:.0f} MB at the end (growth {growth:+.0f} MB), "
          f"peak {peak:.0f} MB")
    print(f"  problems: {len(problems)}")
    for p in problems[:20]:
        print("   ", p)
    return 1 if problems or growth > args.max_growth_mb else 0


if __name__ == "__main__":
    sys.exit(main())
