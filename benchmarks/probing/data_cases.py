"""The hostile data files of channel 11, one case each."""

from __future__ import annotations

import os
import pickle
import random
from collections.abc import Callable
from pathlib import Path

from probing.checkpoints import _Payload
from probing.data_makers import (
    animated,
    checkpoint,
    csv_text,
    fifo,
    good_csv,
    image_tree,
    images,
    layout,
    link,
    npz,
    put,
    raw,
    saved,
    tensors,
    tiny_png,
    truncated,
    xy,
)
from probing.files import _torch


def data_cases(
    rng: random.Random, randoms: int
) -> list[tuple[str, str, Callable[[Path], Path], list[str]]]:
    """(label, source, make(folder) -> the --data-path, extra flags) for every hostile input."""
    torch = _torch()

    good = good_csv()
    wide = ",".join(f"c{i}" for i in range(100_000)) + ",label\n"
    wide += "".join(",".join(["1"] * 100_000) + f",{i % 2}\n" for i in range(6))
    cases: list[tuple[str, str, Callable[[Path], Path], list[str]]] = [
        ("csv: a well-formed file", "csv", csv_text(good), []),
        ("csv: empty file", "csv", csv_text(""), []),
        ("csv: header only", "csv", csv_text("a,b,label\n"), []),
        ("csv: UTF-8 BOM", "csv", csv_text(b"\xef\xbb\xbf" + good.encode()), []),
        (
            "csv: quoted labels with commas and newlines",
            "csv",
            csv_text(good.replace(",a\n", ',"a, \nb"\n')),
            [],
        ),
        ("csv: a quoted feature with a comma", "csv", csv_text(good + '"1,5",2,a\n'), []),
        ("csv: NaN value", "csv", csv_text(good + "nan,1,a\n"), []),
        (
            "csv: inf value",
            "csv",
            csv_text(good.replace("height,weight,kind\n", "height,weight,kind\ninf,1,a\n")),
            [],
        ),
        ("csv: 1e400 value", "csv", csv_text(good + "1e400,1,b\n"), []),
        ("csv: a missing value", "csv", csv_text(good + ",1,b\n"), []),
        ("csv: a ragged row", "csv", csv_text(good + "1,2,3,a\n"), []),
        ("csv: a short row", "csv", csv_text(good + "1,a\n"), []),
        ("csv: non-UTF-8 bytes", "csv", csv_text(good.encode() + b"1,\xff\xfe,a\n"), []),
        ("csv: a NUL byte", "csv", csv_text(good + "1,2\x00,a\n"), []),
        (
            "csv: a field over the csv module's limit",
            "csv",
            csv_text(good + "1," + "9" * 200_000 + ",a\n"),
            [],
        ),
        ("csv: 10^5 columns", "csv", csv_text(wide), []),
        ("csv: a single class", "csv", csv_text("a,b,label\n1,2,x\n3,4,x\n5,6,x\n"), []),
        (
            "csv: numeric labels with gaps",
            "csv",
            csv_text(
                "a,b,label\n" + "".join(f"{i},{i * 2},{(0, 5, 17)[i % 3]}\n" for i in range(24))
            ),
            [],
        ),
        ("csv: --target names no column", "csv", csv_text(good), ["--target", "nope"]),
        ("csv: --target given as a number", "csv", csv_text(good), ["--target", "1"]),
        ("csv: --target names a feature column", "csv", csv_text(good), ["--target", "height"]),
        ("csv: an empty header name", "csv", csv_text(good.replace("height", "", 1)), []),
        ("csv: CR-only line ends", "csv", csv_text(good.replace("\n", "\r")), []),
        (
            "csv: the data path is a FIFO",
            "csv",
            lambda folder: (os.mkfifo(folder / "data.csv"), folder / "data.csv")[1],
            [],
        ),
        ("csv: the data path is a folder", "csv", lambda folder: folder, []),
        ("images: a well-formed folder", "image-folder", images(lambda root: None), []),
        ("images: a zero-byte file", "image-folder", images(put("cat/zero.png", b"")), []),
        ("images: truncated PNG", "image-folder", images(truncated("cat/cut.png", "PNG", 0.5)), []),
        (
            "images: truncated JPEG",
            "image-folder",
            images(truncated("dog/cut.jpg", "JPEG", 0.5)),
            [],
        ),
        (
            "images: a text file named .png",
            "image-folder",
            images(put("cat/text.png", b"not an image\n")),
            [],
        ),
        (
            "images: decompression bomb 30000x30000 PNG",
            "image-folder",
            images(put("cat/bomb.png", tiny_png(30000, 30000))),
            [],
        ),
        (
            "images: decompression bomb 10000x10000 PNG (warning size)",
            "image-folder",
            images(put("cat/bomb.png", tiny_png(10000, 10000))),
            [],
        ),
        ("images: 16-bit PNG (I;16)", "image-folder", images(saved("cat/deep.png", "I;16")), []),
        ("images: CMYK JPEG", "image-folder", images(saved("cat/cmyk.jpg", "CMYK")), []),
        ("images: LA PNG", "image-folder", images(saved("dog/la.png", "LA")), []),
        ("images: 1-bit BMP", "image-folder", images(saved("dog/bits.bmp", "1")), []),
        (
            "images: float TIFF named .png",
            "image-folder",
            images(saved("dog/float.png", "F", fmt="TIFF")),
            [],
        ),
        ("images: an animated GIF", "image-folder", images(animated), []),
        (
            "images: a symlink loop named .png",
            "image-folder",
            images(link("cat/loop.png", "loop.png")),
            [],
        ),
        (
            "images: a dangling symlink named .png",
            "image-folder",
            images(link("cat/gone.png", "missing.png")),
            [],
        ),
        ("images: a folder symlink loop", "image-folder", images(link("cat/sub", "..")), []),
        ("images: a FIFO named x.png", "image-folder", images(fifo("cat/x.png")), []),
        (
            "images: a folder named x.png",
            "image-folder",
            images(lambda root: (root / "cat" / "x.png").mkdir()),
            [],
        ),
        (
            "images: class names with a newline and unicode",
            "image-folder",
            images(lambda root: image_tree(root, ("a\nb", "名前 ü", "c\rd")), base=False),
            [],
        ),
        (
            "images: an empty class folder",
            "image-folder",
            images(lambda root: (root / "empty").mkdir()),
            [],
        ),
        (
            "images: train and val with different classes",
            "image-folder",
            images(layout(("cat", "dog"), ("cat", "owl")), base=False),
            [],
        ),
        (
            "images: a single class",
            "image-folder",
            images(lambda root: image_tree(root, ("cat",)), base=False),
            [],
        ),
        ("tensors: a well-formed .pt", "tensors", tensors(xy()), []),
        (
            "tensors: a pickled object (legacy pickle)",
            "tensors",
            raw("data.pt", pickle.dumps({"x": _Payload("data-legacy")})),
            [],
        ),
        (
            "tensors: a pickled object in a torch file",
            "tensors",
            tensors(lambda: {"x": _Payload("data-zip"), "y": 1}),
            [],
        ),
        (
            "tensors: a pickled object in an .npz",
            "tensors",
            npz(x=lambda: __import__("numpy").array([_Payload("data-npz")], dtype=object), y=[0]),
            [],
        ),
        ("tensors: x with 0 rows", "tensors", tensors(xy(n=0)), []),
        ("tensors: y 2-D", "tensors", tensors(xy(y=lambda: torch.zeros(24, 2))), []),
        ("tensors: x 1-D", "tensors", tensors(xy(x=lambda: torch.zeros(24))), []),
        ("tensors: float labels", "tensors", tensors(xy(y=lambda: torch.rand(24))), []),
        (
            "tensors: whole float labels",
            "tensors",
            tensors(xy(y=lambda: (torch.arange(24) % 2).float())),
            [],
        ),
        (
            "tensors: float labels of 1e30",
            "tensors",
            tensors(xy(y=lambda: torch.full((24,), 1e30))),
            [],
        ),
        (
            "tensors: NaN labels",
            "tensors",
            tensors(xy(y=lambda: torch.full((24,), float("nan")))),
            [],
        ),
        (
            "tensors: negative labels",
            "tensors",
            tensors(xy(y=lambda: torch.arange(24) % 2 - 1)),
            [],
        ),
        (
            "tensors: a label of 10**12",
            "tensors",
            tensors(xy(y=lambda: torch.tensor([0, 10**12] * 12))),
            [],
        ),
        (
            "tensors: boolean labels",
            "tensors",
            tensors(xy(y=lambda: torch.arange(24) % 2 == 0)),
            [],
        ),
        ("tensors: mismatched lengths", "tensors", tensors(xy(y=lambda: torch.arange(23) % 2)), []),
        (
            "tensors: NaN features",
            "tensors",
            tensors(xy(x=lambda: torch.full((24, 5), float("nan")))),
            [],
        ),
        (
            "tensors: complex features",
            "tensors",
            tensors(xy(x=lambda: torch.zeros(24, 5, dtype=torch.complex64))),
            [],
        ),
        (
            "tensors: float16 features",
            "tensors",
            tensors(xy(x=lambda: torch.randn(24, 5).half())),
            [],
        ),
        ("tensors: a 0-d x", "tensors", tensors(xy(x=lambda: torch.tensor(1.0))), []),
        (
            "tensors: x with a zero-size dimension",
            "tensors",
            tensors(xy(x=lambda: torch.zeros(24, 0))),
            [],
        ),
        (
            "tensors: a sparse x",
            "tensors",
            tensors(xy(x=lambda: torch.zeros(24, 5).to_sparse())),
            [],
        ),
        ("tensors: classes of the wrong type", "tensors", tensors(xy(classes=lambda: [1, 2])), []),
        (
            "tensors: fewer classes than labels",
            "tensors",
            tensors(xy(classes=lambda: ["only"])),
            [],
        ),
        (
            "tensors: a train/val split whose val lacks a class",
            "tensors",
            tensors(
                lambda: {
                    "x_train": torch.randn(8, 3),
                    "y_train": torch.arange(8) % 2,
                    "x_val": torch.randn(4, 3),
                    "y_val": torch.zeros(4, dtype=torch.long),
                }
            ),
            [],
        ),
        (
            "tensors: a train/val split with empty val",
            "tensors",
            tensors(
                lambda: {
                    "x_train": torch.randn(8, 3),
                    "y_train": torch.arange(8) % 2,
                    "x_val": torch.zeros(0, 3),
                    "y_val": torch.zeros(0, dtype=torch.long),
                }
            ),
            [],
        ),
        (
            "tensors: .npz with extra keys",
            "tensors",
            npz(
                x=lambda: __import__("numpy").random.default_rng(0).random((24, 4)),
                y=[i % 2 for i in range(24)],
                extra=[1, 2],
            ),
            [],
        ),
        (
            "tensors: .npz with missing keys",
            "tensors",
            npz(x=lambda: __import__("numpy").zeros((24, 4))),
            [],
        ),
        (
            "tensors: .npz of strings for x",
            "tensors",
            npz(x=lambda: __import__("numpy").array(["a"] * 24), y=[i % 2 for i in range(24)]),
            [],
        ),
        ("tensors: a non-zip .npz", "tensors", raw("data.npz", b"not a zip archive\n" * 10), []),
        (
            "tensors: a truncated .npz",
            "tensors",
            lambda folder: raw(
                "data.npz",
                (
                    npz(x=lambda: __import__("numpy").zeros((24, 4)), y=[0, 1] * 12)(folder)
                ).read_bytes()[:300],
            )(folder),
            [],
        ),
        (
            "tensors: a .npy named .npz",
            "tensors",
            lambda folder: (
                __import__("numpy").save(folder / "a.npy", __import__("numpy").zeros(3)),
                raw("data.npz", (folder / "a.npy").read_bytes())(folder),
            )[1],
            [],
        ),
        ("tensors: a .pt that is a checkpoint dict", "tensors", tensors(checkpoint), []),
        ("tensors: a .pt holding a list", "tensors", tensors(lambda: [torch.zeros(2)]), []),
        (
            "tensors: a .pt with non-str keys",
            "tensors",
            tensors(lambda: {1: torch.zeros(24, 5), 2: torch.zeros(24)}),
            [],
        ),
        ("tensors: an empty file", "tensors", raw("data.pt", b""), []),
        ("tensors: a text file", "tensors", raw("data.pt", b"x,y\n1,2\n"), []),
    ]
    # seeded extras: damaged copies of the well-formed files
    for _ in range(randoms):
        keep = rng.uniform(0.05, 0.95)
        kind = rng.choice(["png", "csv", "pt"])
        if kind == "png":
            cases.append(
                (
                    f"images: PNG cut at {keep:.2f}",
                    "image-folder",
                    images(truncated("dog/r.png", "PNG", keep)),
                    [],
                )
            )
        elif kind == "csv":
            cut = good[: int(len(good) * keep)]
            cases.append((f"csv: file cut at {keep:.2f}", "csv", csv_text(cut), []))
        else:

            def cut_pt(folder: Path, keep: float = keep) -> Path:
                path = tensors(xy())(folder)
                data = path.read_bytes()
                path.write_bytes(data[: int(len(data) * keep)])
                return path

            cases.append((f"tensors: .pt cut at {keep:.2f}", "tensors", cut_pt, []))
    # a few image cases again, read by DataLoader worker processes
    parallel = (
        "zero-byte",
        "truncated PNG",
        "text file named",
        "30000x30000",
        "FIFO named",
        "well-formed folder",
        "newline and unicode",
    )
    cases += [
        (f"{label} [--num-workers 2]", source, make, [*extra, "--num-workers", "2"])
        for label, source, make, extra in list(cases)
        if source == "image-folder" and any(s in label for s in parallel)
    ]
    return cases
