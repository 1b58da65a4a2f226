"""Optimizers (``conf/optimizer/``): each builder takes its typed config and the model.

``groups.py`` sorts parameters into roles (matrices, embeddings, head, vectors) that get their own
lr and decay; ``base.py`` holds the step every gptlab optimizer shares (decoupled, optionally
cautious, weight decay); each other module is one update rule.
"""
