"""Lessons: the tutorial's teaching points computed live on the real model and real MNIST, as plain data."""
