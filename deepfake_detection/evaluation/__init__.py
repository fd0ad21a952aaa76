"""How good a detector is: metrics (AUC, EER, ECE, ...), the evaluation report by method and compression, and
the Hugging Face model card built from it."""
