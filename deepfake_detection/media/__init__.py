"""Video files in: stream choice and measured facts (`probe`), upright frames (`reader`), upload sniffing."""
