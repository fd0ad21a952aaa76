"""Metrics as plain functions of labels and scores: what training selects on, evaluation reports, monitoring and
online evaluation compare. No model, no store: the layer every stage above the data may use."""
