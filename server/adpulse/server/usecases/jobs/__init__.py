"""Long jobs: each advances one operation from its checkpoint, in chunks."""
