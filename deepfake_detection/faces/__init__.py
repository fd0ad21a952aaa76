"""Faces: detectors (YuNet by default, dlib HOG), tracks inside a clip, persons across a video, crops."""
