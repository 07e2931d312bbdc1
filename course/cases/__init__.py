"""Public exercise cases, one module per chapter (``chNN.py``), discovered automatically."""
