"""Training: the run's config and recipes, the engine that streams events, LR schedules, run folders, estimates."""
