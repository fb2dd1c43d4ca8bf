"""The channels and tools of benchmarks/probe.py, the hostile-input probe of snippetgen."""
