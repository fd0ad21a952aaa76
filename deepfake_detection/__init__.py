"""Spatio-temporal deepfake detection on VideoMAE, trained and evaluated on FaceForensics++.

The package holds all domain logic (video, faces, clips, catalog, contracts); ZenML steps and the
BentoML service are thin shells around it so that what is served is what was trained and evaluated.
"""

from deepfake_detection.offline import apply_offline_env

apply_offline_env()

__version__ = "0.1.0"
