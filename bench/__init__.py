"""Benchmarks: each module with a ``main(argv)`` prints its figures and their ratio to a
ceiling measured in the same run. ``python -m bench`` (``make bench``) runs them all, or the
ones named on its command line; ``docs/benchmarks.md`` says what each measures.
"""
