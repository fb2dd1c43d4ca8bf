"""The terms of a text, for the lookup (:mod:`snippetgen.lookup.search`), in English and Chinese.

English words are lower-cased and stemmed ("resuming" and "resume" both give ``resum``);
Chinese runs are cut into character pairs (Chinese has no spaces, so "学习率预热" gives 学习
习率 率预 预热). A query also loses its stop words and Chinese fillers, and a small synonym
table connects how people ask to how recipes are named ("crash" -> resume, checkpoint).
"""

from __future__ import annotations

import functools
import re

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
TOKEN = re.compile(rf"[a-z0-9]+|[{_CJK}]+")
IS_CJK = re.compile(rf"[{_CJK}]")

STOPWORDS = frozenset(
    """a an and are as at be by can do does for from get how i in into is it its me my of on
    or so than that the their then this to too use using want way what when where which while
    why with without you your after before during should could would""".split()
)
# Chinese filler words dropped from a query (question words, particles).
_CJK_FILLERS = (
    "怎么样",
    "怎么",
    "怎样",
    "如何",
    "什么",
    "为什么",
    "一下",
    "请问",
    "的",
    "了",
    "吗",
    "呢",
    "我",
)

# How people ask -> words recipes use. Keys and values are plain words; both are stemmed.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "crash": ("resume", "checkpoint"),
    "interrupt": ("resume", "checkpoint"),
    "preempt": ("resume", "checkpoint"),
    "restart": ("resume", "checkpoint"),
    "continue": ("resume", "checkpoint"),
    "save": ("checkpoint",),
    "restore": ("resume", "checkpoint"),
    "snapshot": ("checkpoint",),
    "freeze": ("finetune", "frozen", "backbone"),
    "frozen": ("finetune", "freeze", "backbone"),
    "transfer": ("finetune", "pretrained"),
    "pretrained": ("finetune", "partial"),
    "nan": ("amp", "clip", "overflow"),
    "overflow": ("amp", "scaler"),
    "underflow": ("amp", "scaler"),
    "inf": ("amp", "scaler"),
    "fp16": ("amp",),
    "bf16": ("amp",),
    "bfloat16": ("amp",),
    "float16": ("amp",),
    "half": ("amp",),
    "autocast": ("amp",),
    "precision": ("amp", "metrics"),
    "explode": ("clip",),
    "exploding": ("clip",),
    "clipping": ("clip",),
    "warm": ("warmup",),
    "ramp": ("warmup",),
    "decay": ("schedule", "weight-decay"),
    "anneal": ("schedule", "cosine"),
    "annealing": ("schedule", "cosine"),
    "scheduler": ("schedule",),
    "steplr": ("schedule", "step"),
    "multisteplr": ("schedule", "multistep"),
    "cosine": ("schedule",),
    "plateau": ("schedule",),
    "onecycle": ("schedule",),
    "imbalance": ("weights", "focal"),
    "imbalanced": ("weights", "focal"),
    "unbalanced": ("weights", "focal"),
    "skewed": ("weights", "imbalance"),
    "rare": ("weights", "imbalance"),
    "averaging": ("ema", "swa"),
    "polyak": ("ema", "swa"),
    "overfit": ("regularization", "early"),
    "overfitting": ("regularization", "early"),
    "seed": ("reproducible",),
    "deterministic": ("reproducible",),
    "reproduce": ("reproducible",),
    "reproducibility": ("reproducible",),
    "oom": ("accumulation", "amp"),
    "memory": ("accumulation", "amp"),
    "accuracy": ("metrics",),
    "recall": ("metrics",),
    "f1": ("metrics",),
    "confusion": ("metrics",),
    "plot": ("tensorboard", "visualization"),
    "visualize": ("tensorboard", "visualization"),
    "visualise": ("tensorboard", "visualization"),
    "curves": ("tensorboard",),
    "gpu": ("device", "cuda"),
    "sparse": ("l1",),
    "sparsity": ("l1",),
    "lasso": ("l1",),
    "patience": ("early", "stopping"),
    "stop": ("early-stopping",),
    "soft": ("smoothing",),
    "hook": ("feature-extraction",),
    "version": ("env-info",),
    "penalize": ("regularization",),
    "penalty": ("regularization",),
    "l2": ("weight-decay",),
}
# Phrases that name one concept: their presence adds these words.
PHRASES: dict[str, tuple[str, ...]] = {
    "learning rate": ("lr",),
    "mixed precision": ("amp",),
    "half precision": ("amp",),
    "weight decay": ("weight-decay",),
    "out of memory": ("accumulation",),
    "larger batch": ("accumulation",),
    "bigger batch": ("accumulation",),
    "large batch": ("accumulation",),
    "soft labels": ("label-smoothing",),
    "soft targets": ("label-smoothing",),
    "moving average": ("ema",),
    "stop early": ("early-stopping",),
    "class imbalance": ("class-weights",),
    "one cycle": ("onecycle",),
    "loss is nan": ("amp", "grad-clip"),
    "nan loss": ("amp", "grad-clip"),
    "loss nan": ("amp", "grad-clip"),
    "absolute weights": ("l1",),
    # Chinese ways of asking -> the words the recipes use
    "中断": ("断点", "恢复训练"),
    "崩溃": ("断点", "恢复训练"),
    "继续训练": ("断点续训", "恢复训练"),
    "显存": ("梯度累积", "混合精度"),
    "梯度爆炸": ("梯度裁剪",),
    "过拟合": ("正则化", "早停"),
    "不均衡": ("不平衡",),
    "冻结": ("微调",),
    "最后一层": ("全连接层", "微调"),
    "特定层": ("冻结参数", "微调"),
    "召回率": ("查全率",),
    "精确率": ("查准率",),
    "精准率": ("查准率",),
    "评价指标": ("查准率", "查全率", "f1"),
    "评估指标": ("查准率", "查全率", "f1"),
}

_SUFFIXES = ("ations", "ation", "ings", "ing", "ies", "ied", "ers", "er", "ed", "es", "s", "e")
_REPLACE = {"ations": "at", "ation": "at", "ies": "y", "ied": "y"}


@functools.lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light English stemmer: the same stem for resume/resuming/resumed, clip/clipping."""
    if len(word) <= 3 or not word.isalpha():
        return word
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix in ("s", "es") and word.endswith("ss"):
                return word  # loss, class
            base = word[: -len(suffix)] + _REPLACE.get(suffix, "")
            if len(base) > 3 and base[-1] == base[-2] and base[-1] not in "lsz":
                base = base[:-1]  # stopping -> stop
            return base
    return word


def _cjk_terms(run: str) -> list[str]:
    if len(run) == 1:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


def terms(text: str, *, query: bool = False) -> list[str]:
    """The terms of a text: stemmed English words (and joined pairs), Chinese bigrams."""
    low = text.lower()
    if query:
        for filler in _CJK_FILLERS:
            low = low.replace(filler, " " if len(filler) > 1 else "")
    out: list[str] = []
    previous = ""
    for token in TOKEN.findall(low):
        if IS_CJK.match(token):
            out.extend(_cjk_terms(token))
            previous = ""
            continue
        if query and token in STOPWORDS:
            previous = ""
            continue
        out.append(stem(token))
        if previous and not query:  # "label smoothing" also matches "labelsmoothing"
            out.append(stem(previous + token))
        previous = token
    return out


def normalised(text: str) -> str:
    """Lower case, no stop words, separators as single spaces: for whole-phrase comparisons."""
    return " ".join(t for t in TOKEN.findall(text.lower()) if t not in STOPWORDS)
