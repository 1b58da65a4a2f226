"""Data sources (``conf/data/``), the on-disk token cache, and the batch loader."""
