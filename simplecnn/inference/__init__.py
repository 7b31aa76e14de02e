"""Inference: any drawing or photo → the model's input, its answer, and whether it looks like a digit at all."""
