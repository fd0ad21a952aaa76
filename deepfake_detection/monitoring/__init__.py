"""Watching production: drift features of videos, the training reference, the Evidently report and the
request log the service writes."""
