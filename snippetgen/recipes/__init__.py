"""Recipes and their parameters: a recipe's metadata (:mod:`.recipe`, :mod:`.metatext`,
:mod:`.safepattern`), the catalog of built-in and user recipes (:mod:`.catalog`,
:mod:`.userrecipes`, :mod:`.recipecheck`), the parameter concept (:mod:`.params`) and the data
source and model a training script is rendered for (:mod:`.datamodel`)."""
