"""Execution: where a scheduled run trains — threads in this process, or a Ray cluster through a bridge process."""
