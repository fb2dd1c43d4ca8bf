"""Finding recipes: the built-in ``templates/`` plus directories on ``SNIPPETGEN_PATH``."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from snippetgen.errors import RecipeDefinitionError, UnknownRecipeError
from snippetgen.recipes.metatext import NAME_RE
from snippetgen.recipes.recipe import BASE_RECIPE, BUILT_IN, Recipe, load_recipe

PATH_ENV = "SNIPPETGEN_PATH"


def builtin_dir() -> Path:
    """The built-in recipes: inside the installed package, or the repository's templates/."""
    package = Path(__file__).resolve().parents[1]
    packaged = package / "templates"
    if packaged.is_dir():
        return packaged
    return package.parent / "templates"


def user_dirs() -> list[Path]:
    raw = os.environ.get(PATH_ENV, "")
    return [Path(p).expanduser() for p in raw.split(os.pathsep) if p.strip()]


class Catalog:
    """Every recipe by name, with the broken ones and the overrides kept for reporting."""

    def __init__(self, base_dir: Path | None = None) -> None:
        self.recipes: dict[str, Recipe] = {}
        self.broken: list[RecipeDefinitionError] = []
        self.overridden: dict[str, list[Recipe]] = {}
        # broken user recipes by name: each hides any earlier recipe of that name
        self.shadowed: dict[str, RecipeDefinitionError] = {}
        self.base_dir = base_dir or builtin_dir()

    def get(self, name: str) -> Recipe:
        recipe = self.recipes.get(name)
        if recipe is None:
            for r in self.recipes.values():
                if name in r.aliases:
                    return r
            if name in self.shadowed:
                raise self.shadowed[name]
            raise UnknownRecipeError(name=name, known=self.recipes)
        return recipe

    def __iter__(self) -> Iterator[Recipe]:
        return iter(sorted(self.recipes.values(), key=lambda r: (r.kind != "feature", r.name)))

    def __len__(self) -> int:
        return len(self.recipes)

    def features(self) -> list[Recipe]:
        return [r for r in self if r.kind == "feature"]

    @property
    def base(self) -> Recipe:
        return self.get(BASE_RECIPE)


def _intended_name(folder: Path) -> str:
    """The name a broken recipe was meant to have: its recipe.toml's, else the folder's."""
    import tomllib

    from snippetgen.safefile import inside, read_text

    meta = folder / "recipe.toml"
    try:
        name = tomllib.loads(read_text(meta)).get("name") if inside(meta, folder) else None
    except (ValueError, RecursionError, MemoryError):  # not a file, undecodable, or not TOML
        name = None
    return name if isinstance(name, str) and NAME_RE.match(name) else folder.name


def _load_user_recipe(folder: Path, source: str) -> Recipe:
    """A recipe from a user folder, fully checked; any failure is a RecipeDefinitionError."""
    from snippetgen.recipes.recipecheck import check_folder, check_user_recipe

    try:
        check_folder(folder)  # before anything in it is read: no links out, no FIFOs
        recipe = load_recipe(folder, source=source)
        check_user_recipe(recipe)
    except RecipeDefinitionError:
        raise
    except (RecursionError, MemoryError):
        raise RecipeDefinitionError(
            path=str(folder), reason="it nests too deeply to be read"
        ) from None
    except Exception as exc:  # never let one recipe stop every command
        raise RecipeDefinitionError(
            path=str(folder), reason=f"it cannot be loaded ({type(exc).__name__}: {exc})"
        ) from None
    return recipe


def _scan(root: Path, source: str, catalog: Catalog, only: set[str] | None = None) -> None:
    try:
        if not root.is_dir():
            return
        folders = sorted(root.iterdir()) if only is None else [root / name for name in sorted(only)]
    except OSError as exc:
        catalog.broken.append(
            RecipeDefinitionError(
                path=str(root), reason=f"cannot list the folder ({exc.strerror or exc})"
            )
        )
        return
    for folder in folders:
        try:
            if not folder.is_dir() or folder.name.startswith(("_", ".")):
                continue
        except OSError:  # a name too long, a loop of links: not a recipe folder
            continue
        try:
            if source == BUILT_IN:
                recipe = load_recipe(folder, source=source)
            else:
                recipe = _load_user_recipe(folder, source)
        except RecipeDefinitionError as exc:
            catalog.broken.append(exc)
            if source != BUILT_IN:  # it hides the recipe it would override: never a silent fallback
                name = _intended_name(folder)
                catalog.recipes.pop(name, None)
                catalog.shadowed[name] = exc
            continue
        catalog.shadowed.pop(recipe.name, None)
        previous = catalog.recipes.get(recipe.name)
        if previous is not None:
            catalog.overridden.setdefault(recipe.name, []).append(previous)
        catalog.recipes[recipe.name] = recipe


def load_catalog(extra: list[Path] | None = None, *, names: Iterable[str] | None = None) -> Catalog:
    """Load built-in recipes, then each user directory in order (later ones override).

    With ``names`` (what a render asks for), only those built-in recipes and the base
    ``train`` are read, by folder name; user directories are read whole. If any name is not
    found that way (an alias, a typo, a renamed folder) everything is read, so look-ups and
    suggestions are exactly those of a full catalog.
    """
    wanted = None if names is None else {BASE_RECIPE, *names}
    if wanted is not None and not all(NAME_RE.match(n) for n in wanted):
        wanted = None  # not a recipe name (so never a path to follow): read everything
    catalog = Catalog()
    _scan(catalog.base_dir, BUILT_IN, catalog, wanted)
    for directory in [*user_dirs(), *(extra or [])]:
        _scan(directory, str(directory), catalog)
    if wanted is not None and not all(
        n in catalog.recipes or n in catalog.shadowed for n in wanted
    ):
        return load_catalog(extra)
    return catalog
