"""Who a face is: a 128-d descriptor, so the tracks of different clips can be linked into persons.

dlib's face recognition ResNet (`dlib_face_recognition_resnet_model_v1.dat`, 99.38 % on LFW) on a chip
aligned by dlib's 5-point landmark model (`shape_predictor_5_face_landmarks.dat`), both from the
`face_recognition_models` package; Davis King released both models into the public domain (dlib-models).
The 68-point model in the same package is *not* used here (its iBUG 300-W training data bars commercial use).
Faces of one person are usually within 0.45 of each other, different people beyond 0.6 (dlib's threshold):
measured on FF++ and DFDC samples 0.20-0.46 within a video, 0.63-0.82 between videos.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from deepfake_detection.faces.boxes import Box
from deepfake_detection.faces.detectors import package_file

MODELS_PACKAGE = "face_recognition_models"
SAME_PERSON_DISTANCE = 0.6


@lru_cache(maxsize=1)
def _models():
    import dlib

    landmarks = dlib.shape_predictor(str(package_file(MODELS_PACKAGE, "shape_predictor_5_face_landmarks.dat")))
    resnet = dlib.face_recognition_model_v1(
        str(package_file(MODELS_PACKAGE, "dlib_face_recognition_resnet_model_v1.dat"))
    )
    return landmarks, resnet


def face_descriptor(frame: np.ndarray, box: Box) -> np.ndarray:
    """The 128-d identity descriptor (float32, unit scale as dlib gives it) of the face in `box` of an RGB frame."""
    import dlib

    landmarks, resnet = _models()
    rect = dlib.rectangle(int(box.x0), int(box.y0), int(box.x1), int(box.y1))
    image = np.ascontiguousarray(frame)
    return np.asarray(resnet.compute_face_descriptor(image, landmarks(image, rect)), dtype=np.float32)
