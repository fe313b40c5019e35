"""video_folder dataset: clips of every video in a folder of your own footage."""
