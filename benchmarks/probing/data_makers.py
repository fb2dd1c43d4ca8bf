"""The files of channel 11: image folders, CSV text and tensor files, good and bad."""

from __future__ import annotations

import os
import random
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from probing.files import _torch

# --- 11. hostile data files read by generated scripts ---------------------------------------------

DATA_SOURCES = {  # --data source: (model flags, run flags besides the shared ones)
    "csv": (["--model", "mlp"], []),
    "tensors": (["--model", "mlp"], []),
    "image-folder": ([], ["--image-size", "8"]),
}
DATA_ARGS = ["--epochs", "1", "--max-batches", "2", "--batch-size", "4", "--device", "cpu"]


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")


def tiny_png(width: int, height: int) -> bytes:
    """A PNG of a few dozen bytes that declares width x height RGB pixels (a decompression bomb
    when they are many: its pixel data is a few zero rows, so decoding it fails or is all zeros)."""
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + _png_chunk(b"IEND", b"")
    )


def _image(path: Path, mode: str = "RGB", seed: int = 0, fmt: str | None = None, **kw: Any) -> None:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    image = Image.fromarray((rng.random((12, 10, 3)) * 255).astype("uint8"))
    if mode == "I;16":
        image = Image.fromarray((rng.random((12, 10)) * 65535).astype("uint16"))
    elif mode != "RGB":
        image = image.convert(mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format=fmt, **kw)


def image_tree(root: Path, classes: Sequence[str] = ("cat", "dog"), per_class: int = 6) -> None:
    for c, name in enumerate(classes):
        for i in range(per_class):
            _image(root / name / f"{i}.png", seed=10 * c + i)


def good_csv(rows: int = 24) -> str:
    rng = random.Random(1)
    lines = ["height,weight,kind"]
    for i in range(rows):
        lines.append(f"{rng.gauss(10 * (i % 3), 1):.3f},{rng.gauss(50, 5):.3f},{'abc'[i % 3]}")
    return "\n".join(lines) + "\n"


def csv_text(text: str | bytes) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / "data.csv"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        return path

    return make


def images(build: Callable[[Path], object], base: bool = True) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        root = folder / "images"
        if base:
            image_tree(root)
        build(root)
        return root

    return make


def put(rel: str, data: bytes) -> Callable[[Path], object]:
    def make(root: Path) -> None:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)

    return make


def saved(rel: str, mode: str, fmt: str | None = None, **kw: Any) -> Callable[[Path], object]:
    return lambda root: _image(root / rel, mode, fmt=fmt, **kw)


def truncated(rel: str, fmt: str, keep: float) -> Callable[[Path], object]:
    def make(root: Path) -> None:
        _image(root / rel, fmt=fmt)
        data = (root / rel).read_bytes()
        (root / rel).write_bytes(data[: int(len(data) * keep)])

    return make


def animated(root: Path) -> None:
    from PIL import Image

    frames = [Image.new("P", (10, 12), color=i) for i in range(3)]
    frames[0].save(root / "cat" / "anim.gif", save_all=True, append_images=frames[1:])


def fifo(rel: str) -> Callable[[Path], object]:
    return lambda root: os.mkfifo(root / rel)


def link(rel: str, target: str) -> Callable[[Path], object]:
    return lambda root: (root / rel).symlink_to(target)


def layout(train: Sequence[str], val: Sequence[str]) -> Callable[[Path], object]:
    def make(root: Path) -> None:
        image_tree(root / "train", train)
        image_tree(root / "val", val, per_class=2)

    return make


def tensors(content: Callable[[], Any], name: str = "data.pt") -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / name
        _torch().save(content(), path)
        return path

    return make


def npz(**arrays: Any) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        import numpy as np

        path = folder / "data.npz"
        np.savez(path, **{k: v() if callable(v) else v for k, v in arrays.items()})
        return path

    return make


def raw(name: str, data: bytes) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        (folder / name).write_bytes(data)
        return folder / name

    return make


def xy(n: int = 24, d: int = 5, **over: Any) -> Callable[[], dict[str, Any]]:
    def make() -> dict[str, Any]:
        g = _torch().Generator().manual_seed(0)
        content = {"x": _torch().randn(n, d, generator=g), "y": _torch().arange(n) % 2}
        content.update({k: v() if callable(v) else v for k, v in over.items()})
        return content

    return make


def checkpoint() -> dict[str, Any]:
    model = _torch().nn.Linear(5, 2)
    optimizer = _torch().optim.SGD(model.parameters(), lr=0.1)
    return {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 1}
