"""One training run in named steps, shared by every entry point (``gptlab-train``, sweeps, Python).

``resolved`` checks the config once and types it, ``lock`` makes the run dir one run's alone,
``resume`` decides what a restart may change, ``build`` turns the typed config into data, model,
optimizer and loader, ``parallel`` is where a distributed strategy wraps the model.
``gptlab.train.train`` tells the story: resolve -> claim the run dir -> build -> restore -> fit -> finish.
"""
