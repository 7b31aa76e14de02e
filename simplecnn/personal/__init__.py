"""Your handwriting, your model: labelled drawings kept per participant, fine-tuning on them, and export."""
