"""The benchmarks: measurements of coverage, speed and the generator's realism and privacy, each writing its
figures to ``benchmarks/results/``. Run them from the checkout's root as modules: ``python -m benchmarks.NAME
--help``. What they share (the repository's paths, pausing a competing process while timing, writing results)
is in :mod:`benchmarks.common`."""
