"""Lookup and cheat sheets: ranked search (:mod:`.search`, :mod:`.terms`), a recipe's essential
code for ``show`` (:mod:`.cheatsheet`, :mod:`.condense`) and learning-rate plots
(:mod:`.lrplot`)."""
