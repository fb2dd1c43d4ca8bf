"""Projects: ``snippetgen new`` (:mod:`.scaffold`, :mod:`.answers`, :mod:`.docs`,
:mod:`.naming`, :mod:`.writing`, :mod:`.notebook`) and ``snippetgen update`` (:mod:`.update`,
:mod:`.update_writing`, :mod:`.pristine`)."""
