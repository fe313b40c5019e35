"""sky_timelapse dataset: SkyTimelapse clips of 25 frames (manual download)."""
