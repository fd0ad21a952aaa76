"""Video in, verdict out: extract -> score -> decide (`analyze`), and the worker processes that decode
untrusted uploads (`worker_pool`)."""
