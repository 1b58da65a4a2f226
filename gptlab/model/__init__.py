"""Models and their building blocks; each block kind is one module, each value one registered class."""
