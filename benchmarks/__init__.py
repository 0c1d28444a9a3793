"""Benchmarks at programme scale (`make bench`). Each module here with a `run(report)` function is
run in turn by `python -m benchmarks`; `report(name, value, unit)` prints one `name: value unit` line."""
