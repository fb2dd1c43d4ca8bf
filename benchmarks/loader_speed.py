"""Images per second through the DataLoader of `render train --data image-folder`, measured by
benchmarks/bench.py: decode, resize, augment, normalise and batch, against Pillow's
decode-and-resize of the same files in a bare loop with the same number of processes."""

from __future__ import annotations

import importlib.util
import statistics
import sys
import time
from pathlib import Path

LOADER_TARGET = 0.8  # the generated loader's images/s, at least this fraction of the bare loop's


def load_script(path: Path):
    spec = importlib.util.spec_from_file_location("bench_train", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_train"] = module
    spec.loader.exec_module(module)
    return module


def write_images(root: Path, count: int, side: int = 128) -> None:
    """`count` JPEG images (smooth colour gradients plus noise) in 4 class folders."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 255, side)
    base = np.stack(
        [np.add.outer(ramp, ramp) / 2, np.outer(ramp, ramp) / 255, ramp[None].repeat(side, 0)],
        -1,
    )
    for i in range(count):
        folder = root / f"class{i % 4}"
        folder.mkdir(parents=True, exist_ok=True)
        pixels = np.clip(base * rng.uniform(0.5, 1.0) + rng.normal(0, 12, base.shape), 0, 255)
        Image.fromarray(pixels.astype("uint8")).save(folder / f"{i:05d}.jpg", quality=90)


def decode_and_resize(job: tuple[str, int]) -> int:
    """Pillow's decode-and-resize of one file (the bare loop's whole work per image)."""
    from PIL import Image

    path, size = job
    with Image.open(path) as image:
        return len(image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR).tobytes())


def loader_benchmark(repeats: int, workdir: Path, workers: int = 2) -> tuple[float, float]:
    """Images per second: the generated image-folder loader vs a bare Pillow loop."""
    import multiprocessing

    import torch

    from snippetgen import RenderRequest, render

    torch.set_num_threads(1)
    root = workdir / "images"
    write_images(root, 1200)
    script = workdir / "bench_images.py"
    script.write_text(render(RenderRequest("train", data="image-folder")))
    mod = load_script(script)
    size = "64"
    args = mod.parse_args(
        ["--data-path", str(root), "--image-size", size, "--num-workers", str(workers)]
        + ["--batch-size", "64", "--device", "cpu"]
    )
    train_dataset, _ = mod.build_datasets(args)
    jobs = [(path, int(size)) for path, _ in train_dataset.samples]
    generator = torch.Generator()

    def ours() -> float:
        generator.manual_seed(0)
        start = time.perf_counter()
        loader = mod.make_loader(
            train_dataset, args, torch.device("cpu"), shuffle=True, generator=generator
        )
        count = sum(len(targets) for _, targets in loader)
        return count / (time.perf_counter() - start)

    def bare() -> float:
        start = time.perf_counter()
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            count = len(pool.map(decode_and_resize, jobs, chunksize=64))
        return count / (time.perf_counter() - start)

    rates: dict[str, list[float]] = {"ours": [], "bare": []}
    ours(), bare()  # warm the file cache
    for _ in range(repeats):
        rates["ours"].append(ours())
        rates["bare"].append(bare())
    return statistics.median(rates["ours"]), statistics.median(rates["bare"])


def print_loader_benchmark(repeats: int, workdir: Path) -> None:
    ours, bare = loader_benchmark(max(3, repeats // 3), workdir)
    ok = "ok" if ours / bare >= LOADER_TARGET else "MISSED"
    print(
        f"{'image loader':<17}{ours:8.0f}  {'Pillow decode+resize loop':<29}{bare:7.0f}"
        f"{ours / bare:7.2f}{LOADER_TARGET:7.2f} {ok}  (images/s, 2 processes each; "
        "higher is better)"
    )
