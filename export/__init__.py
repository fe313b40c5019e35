"""Exporting trained INR-V decoders as SavedModels for TF Serving, and a client.

    python -m export.export_decoder --workdir=/tmp/balls --export_dir=/tmp/models --name=balls
    python -m export.client --server=localhost:8501 --model=balls --signature=sample \
        --count=2 --seed=7 --out=/tmp/sample.mp4

See docs/serving.md.
"""
