"""Build hook for the one optional C extension (the HTML audit's tokenizer); metadata is in setup.cfg.

``optional=True``: without a C compiler the install still succeeds and the audit runs its
pure-Python scanner (same results, slower; ``moviepulse.ssr.audit.SCANNER`` says which one).
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("moviepulse.ssr._scan", ["moviepulse/ssr/_scan.c"], optional=True,
                             extra_compile_args=["-O2"])])
