"""From production back to training: reviews, retained clips, the reviewed set, online evaluation, retraining.

`reviews` (the durable store), `retention` (a request's face clips kept for a period, and their purge),
`shadow_log` (a challenger's p_fake beside production's), `reviewed_dataset` (reviews + request log + clips ->
one label per request, split by time), `online_evaluation` (models on the reviewed set), `continuous_training`
(when to retrain, the training mix and the gate), `config` (the pipelines' run configurations).
"""
