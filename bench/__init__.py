"""MoviePulse benchmarks: each one measures a baseline and MoviePulse side by side, in one run.

``python -m bench`` runs them all, ``python -m bench NAME …`` some; see ``docs/performance.md``.
"""
