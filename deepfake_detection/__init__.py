"""Spatio-temporal deepfake detection on VideoMAE, trained and evaluated on FaceForensics++.

The package holds all domain logic, one subpackage per stage (media, faces, datasets, data, modeling,
evaluation, scoring, monitoring); ZenML steps and the BentoML service are thin shells around it so that what is
served is what was trained and evaluated.
"""

from deepfake_detection import _moved
from deepfake_detection.offline import apply_offline_env

apply_offline_env()
_moved.install()  # artifacts written before the stage subpackages still load

__version__ = "0.1.0"
