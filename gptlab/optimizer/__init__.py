"""Optimizers (``conf/optimizer/``): each builder takes its config and the model."""
