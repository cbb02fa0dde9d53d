"""Benchmarks (``kubetui bench …``): each measures one speed target from the issues.

They print figures (a table, or JSON with ``--json``) and assert nothing:
tests check behaviour, benchmarks measure time. Results, with the machine,
date and command, are recorded in ``docs/benchmarks.md``.
"""
