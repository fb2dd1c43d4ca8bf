"""The parameter concept, in one place: the schema a recipe declares (:mod:`.schema`), CLI
strings parsed and validated into typed values (:mod:`.parse`), and the Python literal, CLI
text and argparse lines generated for a value (:mod:`.code`, :mod:`.literal`)."""
