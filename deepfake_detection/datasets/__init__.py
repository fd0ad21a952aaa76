"""Where videos come from: FaceForensics++ in its official layout with the official splits (`ffpp`), and the
synthetic demo set in the same layout (`demo`). Each gives one catalog row per video."""
