"""Wrong-but-plausible implementations of each exercise (MUTANTS), and correct ones written
differently from the reference (ALTERNATIVES), one module per chapter."""

import importlib
import pkgutil


def load(kind: str) -> dict:
    merged = {}
    for module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
        merged.update(getattr(importlib.import_module(f"{__name__}.{module}"), kind, {}))
    return merged
