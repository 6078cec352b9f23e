"""Published layers, one module per theme; each defines ``LAYERS: list[LayerSpec]``."""
