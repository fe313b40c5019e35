"""bouncing_balls dataset: generated, no download (the quickstart's dataset)."""
