"""Rendering and its checks: a request resolved into a plan and rendered (:mod:`.rendering`),
the templates run with Jinja (:mod:`.templating`, :mod:`.template_env`, :mod:`.slots`), read
without it (:mod:`.template_text`, :mod:`.template_eval`), the code checked and formatted
(:mod:`.codecheck`), outside text made inert (:mod:`.quoting`), and the caches
(:mod:`.cache`, :mod:`.toml_cache`, :mod:`.cache_folder`)."""
