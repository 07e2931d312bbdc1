"""Reference implementations, one module per chapter: the single source of truth for answers.

Later chapters import what earlier ones built (``from solutions.ch04 import ...``):
the notebooks teach, this package keeps the code.
"""
