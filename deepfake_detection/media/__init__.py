"""Video files in: stream choice and measured facts (`probe`), upright frames (`reader`), upload sniffing; and
frames to H.264 and back in memory (`encode`)."""
