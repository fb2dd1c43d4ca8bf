"""`snippetgen search`: ranked, typo-tolerant, English and Chinese; and shell completion.

The query table holds how people ask (natural phrasings, Chinese as the cookbook notes
name each trick, typos, API names) with the recipe that must come back in the top 3.
Recipe names are RECIPES.md's; a row whose recipe is not built yet is skipped, saying so.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from helpers import ROOT
from snippetgen.lookup.search import search
from snippetgen.lookup.terms import stem, terms
from snippetgen.recipes.catalog import load_catalog

QUERIES = [
    # natural English phrasings
    ("resume training after a crash", "checkpoint"),
    ("continue training from a checkpoint", "checkpoint"),
    ("how to save the best model", "checkpoint"),
    ("freeze the backbone", "finetune"),
    ("train only the classifier head", "finetune"),
    ("differential learning rates", "finetune"),
    ("warm up the learning rate", "warmup"),
    ("decay lr every 30 epochs", "lr-schedule"),
    ("cosine annealing", "lr-schedule"),
    ("reduce lr on plateau", "lr-schedule"),
    ("one cycle policy", "lr-schedule"),
    ("my loss is nan", "amp"),
    ("loss becomes nan with fp16", "amp"),
    ("mixed precision training", "amp"),
    ("exploding gradients", "grad-clip"),
    ("clip gradients", "grad-clip"),
    ("bigger batch than fits in memory", "grad-accumulation"),
    ("cuda out of memory", "grad-accumulation"),
    ("accumulate gradients over several batches", "grad-accumulation"),
    ("no weight decay on bias", "no-bias-decay"),
    ("penalize absolute weights", "l1-regularization"),
    ("class imbalance", "class-weights"),
    ("stochastic weight averaging", "swa"),
    ("exponential moving average of weights", "ema"),
    ("stop when validation loss stops improving", "early-stopping"),
    ("fix the random seed", "reproducible"),
    ("precision recall f1 per class", "metrics"),
    ("smooth labels", "label-smoothing"),
    ("mix up augmentation", "mixup"),
    ("load gpu model on cpu", "map-location-load"),
    ("load only matching weights", "partial-load"),
    ("count model parameters", "param-count"),
    ("extract intermediate features with hooks", "feature-extraction"),
    ("dropout in eval mode", "train-eval-modes"),
    ("get the current learning rate", "get-lr"),
    ("what is my cuda version", "env-info"),
    ("training loop template", "train"),
    # typos and word order
    ("checkpiont", "checkpoint"),
    ("lable smoothing", "label-smoothing"),
    ("smoothing label", "label-smoothing"),
    ("early stoping", "early-stopping"),
    ("gradient acumulation", "grad-accumulation"),
    ("warmpu", "warmup"),
    # API names
    ("GradScaler", "amp"),
    ("ReduceLROnPlateau", "lr-schedule"),
    ("AveragedModel update_bn", "swa"),
    ("register_forward_hook", "feature-extraction"),
    ("torch.cdist", "pairwise-distance"),
    ("F.one_hot", "one-hot"),
    # Chinese, as the notes name the tricks
    ("学习率预热", "warmup"),
    ("标签平滑", "label-smoothing"),
    ("标记平滑", "label-smoothing"),
    ("梯度裁剪", "grad-clip"),
    ("学习率衰减", "lr-schedule"),
    ("保存和加载断点", "checkpoint"),
    ("断点续训", "checkpoint"),
    ("训练到一半中断了怎么继续", "checkpoint"),
    ("混合精度", "amp"),
    ("半精度训练", "amp"),
    ("梯度累积", "grad-accumulation"),
    ("不对偏置进行权重衰减", "no-bias-decay"),
    ("L1 正则化", "l1-regularization"),
    ("解决样本不平衡问题", "class-weights"),
    ("样本不均衡", "class-weights"),
    ("早停", "early-stopping"),
    ("模型训练可视化", "tensorboard"),
    ("可复现性", "reproducible"),
    ("混淆矩阵", "metrics"),
    ("查准率", "metrics"),
    ("微调全连接层", "finetune"),
    ("冻结骨干网络", "finetune"),
    ("以较大的学习率微调全连接层", "finetune"),
    ("指数移动平均", "ema"),
    ("随机权重平均", "swa"),
    ("梯度爆炸", "grad-clip"),
    ("将整数标签转为one-hot编码", "one-hot"),
    ("计算模型整体参数量", "param-count"),
    ("模型权重初始化", "weight-init"),
    ("部分层使用预训练模型", "partial-load"),
    ("得到当前学习率", "get-lr"),
    ("pytorch学习率调整", "lr-schedule"),
    ("召回率", "metrics"),
    ("评价指标", "metrics"),
    ("优化器链式更新", "lr-schedule"),
    ("指数滑动平均", "ema"),
    ("梯度剪裁", "grad-clip"),
    ("学习率热身", "warmup"),
]

CATALOG = load_catalog()
BUILT = {path.name for path in (ROOT / "templates").iterdir() if (path / "recipe.toml").exists()}


def test_the_table_is_big_and_bilingual():
    chinese = [q for q, _ in QUERIES if any("\u4e00" <= ch <= "\u9fff" for ch in q)]
    assert len(QUERIES) >= 40 and len(chinese) >= 15


@pytest.mark.parametrize(("query", "expected"), QUERIES, ids=[q for q, _ in QUERIES])
def test_query_finds_its_recipe_in_the_top_three(query, expected):
    if expected not in BUILT:
        pytest.skip(f"recipe {expected} not built yet")
    top = [hit.recipe.name for hit in search(CATALOG, query, limit=3)]
    assert expected in top, (query, top)


@pytest.mark.parametrize("recipe", sorted(CATALOG.recipes), ids=str)
def test_name_and_every_alias_find_the_recipe(recipe):
    """The name ranks first; every alias (English or Chinese) puts it in the top 3."""
    found = CATALOG.get(recipe)
    assert search(CATALOG, recipe, limit=1)[0].recipe.name == recipe
    for alias in found.aliases:
        top = [hit.recipe.name for hit in search(CATALOG, alias, limit=3)]
        assert recipe in top, (alias, top)


def test_chinese_is_matched_by_substrings_without_spaces():
    assert terms("学习率预热") == ["学习", "习率", "率预", "预热"]
    # a longer sentence around an alias, and a fragment of one, still find it
    assert search(CATALOG, "请问怎么做标签平滑", limit=1)[0].recipe.name == "label-smoothing"
    assert search(CATALOG, "标签平", limit=1)[0].recipe.name == "label-smoothing"


def test_stemming_joins_word_forms():
    assert stem("resuming") == stem("resumed") == stem("resume")
    assert stem("clipping") == stem("clip")
    assert stem("loss") == "loss" and stem("class") == "class"


def test_word_order_does_not_matter():
    first = [h.recipe.name for h in search(CATALOG, "weight decay bias")]
    second = [h.recipe.name for h in search(CATALOG, "bias weight decay")]
    assert first == second


def test_scores_fall_and_unrelated_queries_find_nothing():
    hits = search(CATALOG, "learning rate", limit=10)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert search(CATALOG, "xyzzy quux") == []
    assert search(CATALOG, "banana bread") == []
    assert search(CATALOG, "   ") == []


# --- the command ------------------------------------------------------------------------------


def test_json_lists_name_score_summary_best_first(cli):
    code, out, err = cli("search", "label", "smoothing", "--json")
    assert code == 0 and err == ""
    rows = json.loads(out)
    assert rows[0]["name"] == "label-smoothing"
    assert all({"name", "score", "summary"} <= row.keys() for row in rows)
    scores = [row["score"] for row in rows]
    assert scores == sorted(scores, reverse=True)


def test_limit_and_plain_output(cli):
    code, out, _ = cli("search", "learning", "rate", "--limit", "2")
    lines = out.splitlines()
    assert code == 0 and 1 <= len(lines) <= 2
    name = lines[0].split()[0]
    assert name in CATALOG.recipes and CATALOG.get(name).summary in lines[0]
    code, _, err = cli("search", "lr", "--limit", "0")
    assert code == 2 and "--limit" in err


def test_nothing_found_says_so_on_stderr_and_exits_0(cli):
    code, out, err = cli("search", "xyzzy", "quux")
    assert code == 0 and out == ""
    assert "No recipe matches 'xyzzy quux'" in err and "snippetgen list" in err
    code, out, err = cli("search", "xyzzy", "--json")
    assert code == 0 and json.loads(out) == [] and "snippetgen list" in err


PROBE = """
import sys
from snippetgen.cli import app
for args in {runs!r}:
    try:
        app(args, prog_name="snippetgen")
    except SystemExit as exc:
        assert exc.code in (0, None), (args, exc.code)
heavy = {{m.split(".")[0] for m in sys.modules}} & {{"black", "torch", "jinja2", "numpy"}}
print("HEAVY", sorted(heavy), file=sys.stderr)
"""


def test_lookup_commands_never_import_black_torch_or_jinja(tmp_path):
    runs = [
        ["search", "resume", "training", "after", "a", "crash", "--json"],
        ["search", "学习率预热"],
        ["show", "warmup", "--warmup-epochs", "3", "--epochs", "20", "--color", "never"],
        ["show", "lr-schedule", "--kind", "onecycle"],
        ["show", "one-hot"],
        ["list", "--json"],
        ["which", "mixup"],
    ]
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(runs=runs)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stderr.splitlines()[-1]
    assert "Learning rate per epoch" in proc.stdout


# --- shell completion -------------------------------------------------------------------------


def complete(cli, words: str) -> list[str]:
    """What bash completion offers for the last word of `words` (Typer's protocol)."""
    parts = words.split(" ")
    from typer.testing import CliRunner

    from snippetgen.cli import app

    env = {
        "_SNIPPETGEN_COMPLETE": "complete_bash",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(parts) - 1),
    }
    result = CliRunner().invoke(app, [], env=env, prog_name="snippetgen")
    assert result.exit_code == 0, result.output
    return result.stdout.split()


def test_completion_of_recipe_feature_and_parameter_names(cli):
    assert complete(cli, "snippetgen show mix") == ["mixup"]
    assert "label-smoothing" in complete(cli, "snippetgen render la")
    with_ = complete(cli, "snippetgen render train --with ")
    assert "mixup" in with_ and "train" not in with_
    assert all(CATALOG.get(name).kind == "feature" for name in with_)
    assert complete(cli, "snippetgen render mixup --alp") == ["--alpha"]
    if "warmup" in BUILT:
        options = complete(cli, "snippetgen render train --with warmup --warmup")
        assert "--warmup-epochs" in options
    assert "--epochs" in complete(cli, "snippetgen new proj --epo")
    assert complete(cli, "snippetgen which check") == ["checkpoint"]
