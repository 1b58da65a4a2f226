"""The training loop and what it needs: checkpoints, evaluation, progress display."""
