"""The data source and the model a training script is rendered for (``--data``, ``--model``).

Both are chosen when rendering: the script then holds the loader of that one source and the
code of that one architecture. A parameter of the base recipe may apply to some sources only
(its ``data`` key): ``--train-size`` means something for synthetic data alone.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from snippetgen.errors import CompositionError, ParamValueError

DATA_SOURCES = ("synthetic", "image-folder", "csv", "tensors")
BUILTIN_MODELS = ("small-cnn", "mlp", "resnet18", "resnet34", "resnet50")
MODEL_LIBRARIES = ("timm", "torchvision")
DEFAULT_DATA = DATA_SOURCES[0]
# What a data source's loader imports beyond torch (the `images` extra installs it)
DATA_REQUIREMENTS = {"image-folder": ("pillow",)}
DEFAULT_MODEL = BUILTIN_MODELS[0]
# An architecture name of a model library: timm's `vit_base_patch16_224.augreg_in21k` included.
_ARCH = re.compile(r"[A-Za-z][A-Za-z0-9_.]{0,99}")


class DataModel(NamedTuple):
    """A validated ``--data`` and ``--model`` pair."""

    data: str = DEFAULT_DATA
    model: str = DEFAULT_MODEL

    @property
    def library(self) -> str | None:
        """``timm`` or ``torchvision`` for ``--model LIB:NAME``; None for a built-in model."""
        return self.model.partition(":")[0] if ":" in self.model else None

    @property
    def arch(self) -> str:
        """The architecture name: ``resnet18``, or NAME of ``LIB:NAME``."""
        return self.model.rpartition(":")[2]

    @property
    def template(self) -> str:
        """The skeleton's model template: ``resnet`` for every ResNet, else the library or
        the built-in name."""
        if self.model.startswith("resnet"):
            return "resnet"
        return self.library or self.model

    @property
    def requirements(self) -> tuple[str, ...]:
        """What the script needs beyond torch (the header's "Requires:" line): Pillow to
        decode the images of ``image-folder``; the library of ``timm:NAME`` or
        ``torchvision:NAME``, imported by the script only when it builds the model."""
        return DATA_REQUIREMENTS.get(self.data, ()) + ((self.library,) if self.library else ())

    @property
    def is_default(self) -> bool:
        return self == DataModel()

    def options(self) -> list[str]:
        """The render options that give this pair (none for the defaults)."""
        words: list[str] = []
        if self.data != DEFAULT_DATA:
            words += ["--data", self.data]
        if self.model != DEFAULT_MODEL:
            words += ["--model", self.model]
        return words


def check_data(text: str) -> str:
    if text not in DATA_SOURCES:
        raise ParamValueError(
            param="data", value=text, reason=f"it must be one of {', '.join(DATA_SOURCES)}"
        )
    return text


def check_model(text: str) -> str:
    library, colon, arch = text.partition(":")
    if not colon and text in BUILTIN_MODELS:
        return text
    if colon and library in MODEL_LIBRARIES and _ARCH.fullmatch(arch):
        return text
    choices = ", ".join(BUILTIN_MODELS)
    reason = f"it must be one of {choices}, or timm:NAME or torchvision:NAME"
    if colon and library in MODEL_LIBRARIES:
        reason = (
            f"the architecture name after '{library}:' must be letters, digits, '_' and '.', "
            "starting with a letter"
        )
    raise ParamValueError(param="model", value=text, reason=reason)


# The model a source gets when --model is not given: table rows are not images.
SOURCE_MODELS = {"csv": "mlp"}


def data_model(data: str | None = None, model: str | None = None) -> DataModel:
    """Validate a ``--data``/``--model`` pair (None: the default; for ``csv`` the MLP)."""
    source = check_data(data or DEFAULT_DATA)
    return DataModel(source, check_model(model or SOURCE_MODELS.get(source, DEFAULT_MODEL)))


def not_for_source(option: str, sources: tuple[str, ...], data: str) -> CompositionError:
    """The error for a parameter given with a data source it does not apply to."""
    return CompositionError(
        f"{option} applies only with --data {' or '.join(sources)}; this render reads "
        f"--data {data}."
    )
