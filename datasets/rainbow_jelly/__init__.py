"""rainbow_jelly dataset: 25-frame clips of one jellyfish video (manual download)."""
