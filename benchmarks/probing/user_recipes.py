"""Channel 4: hostile user recipes on SNIPPETGEN_PATH."""

from __future__ import annotations

import string

from probing.common import ACCEPTED, REFUSED, Tally, Verdict, crash, refusal, short, worst
from probing.context import Probe
from probing.files import structure
from probing.recipe_cases import MACRO, Hostile, hostile_recipes


def channel_user_recipes(p: Probe, tally: Tally) -> None:
    everything = hostile_recipes()
    rng = p.rng("user-recipes")
    if p.args.quick:  # every file, Jinja and sandbox case; a seeded sample of the others
        meta_cases = [h for h in everything if h.label.startswith("meta:")]
        path_cases = [h for h in everything if h.label.startswith("path:")]
        keep = set(map(id, rng.sample(meta_cases, 6) + rng.sample(path_cases, 3)))
        everything = [
            h
            for h in everything
            if id(h) in keep
            or (
                h.label.split(":")[0] in ("file", "jinja", "sandbox", "trusted")
                and h.label not in ("sandbox:nested-loops", "file:huge-extra-file")
            )
        ]
    cases = p.select([(h.label, h) for h in everything])
    secret = "probe_secret_" + "".join(rng.choice(string.ascii_lowercase) for _ in range(12))

    def case(label: str, hostile: Hostile) -> Verdict:
        top = p.fresh("user")
        (top / "outside.j2").write_text(MACRO)
        (top / "outside-secret.txt").write_text(f"{secret} = 1\n")
        folder = top / "recipes"
        folder.mkdir()
        for rel, content in hostile.files.items():
            path = folder / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if callable(content):
                content(path)
            elif isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
        path_value = hostile.path_value(folder) if hostile.path_value else str(folder)
        env = p.env_with(SNIPPETGEN_PATH=path_value)
        cwd = p.fresh("user-cwd")
        # (a) a built-in render must be unaffected (and may warn about the broken recipe)
        builtin = p.cli(["render", "mixup"], cwd=cwd, env=env)
        verdicts: list[Verdict | None] = [crash(builtin)]
        if builtin.timed_out:
            return worst(*verdicts)
        reported = any("warning" in line for line in builtin.lines)
        if builtin.rc != 0 and verdicts[0] is None:
            verdicts.append(
                Verdict("other", f"render mixup broken: exit {builtin.rc}: {builtin.first_line}")
            )
        elif builtin.rc == 0 and builtin.out != p.render_ref("mixup").out:
            verdicts.append(
                Verdict("unsafe", "render mixup printed something else than the built-in")
            )
        # (b) rendering the hostile recipe itself: refused with one sentence (exit 2, or 3 for
        # a template that fails), or, for a recipe that is valid, valid code
        if hostile.render is not None:
            run = p.cli(hostile.render, cwd=cwd, env=env)
            found = refusal(run)
            # the sentence, after any "warning: skipped: <that recipe>" lines (its report);
            # exit 3: a template that fails, reported as a bug in that recipe
            said = [line for line in run.lines if not line.startswith("warning: skipped: ")]
            if run.rc in (2, 3) and crash(run) is None and len(said) == 1 and not run.out.strip():
                found = REFUSED
            elif found is None:  # exit 0
                if structure(run.out) is None:
                    found = Verdict("unsafe", "rendered code that does not parse")
                elif hostile.secret and secret.encode() in run.out:
                    found = Verdict(
                        "unsafe", "a template included a file from outside the recipe folders"
                    )
                elif hostile.expect == "refuse" and label.startswith("sandbox:"):
                    tail = run.out.decode(errors="replace").strip().splitlines()[-5:]
                    found = Verdict("unsafe", f"rendered (exit 0): {short(' '.join(tail), 80)}")
                elif hostile.expect == "refuse":
                    found = Verdict(
                        "other", "broken recipe rendered" + ("" if reported else " without a word")
                    )
                else:
                    found = ACCEPTED
            verdicts.append(found)
        else:
            verdicts.append(REFUSED if reported else ACCEPTED)
        marks = list(top.rglob("PWNED*")) + list(cwd.rglob("PWNED*"))
        if marks:
            verdicts.append(Verdict("unsafe", f"payload ran at render time: {marks[0].name}"))
        return worst(*verdicts)

    p.map(tally, case, cases)
