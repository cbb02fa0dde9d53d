"""In-tree scheduler plugins, one per module (upstream ``pkg/scheduler/framework/plugins/<name>/``).

Each module keeps its scoring or matching maths as a pure function whose
docstring works an example, so a learner (and the TUI) can follow the numbers.
"""
