"""Demo and synthetic data, kept out of the apps' runtime modules: a plain package, not a Django app.

- `demo.core`, `demo.subprojects`, `demo.enterprises`, `demo.verification`, `demo.monitoring`: each has
  `seed(stdout)`, run in that order by `manage.py seed_demo`.
- `demo.synthetic`: the seeded generator of believable field data, shared by the demo and the scale data.
- `demo.scale`: programme-scale synthetic data for benchmarks (`manage.py generate_scale`).
"""
