"""Clips as data: clip windows and extraction (`clips`), the resumable clip store, the dataset artifact, and the
Great Expectations contracts on the tables."""
