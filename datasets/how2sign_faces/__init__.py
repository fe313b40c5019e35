"""how2sign_faces dataset: the INR-V authors' How2Sign face crops (download)."""
