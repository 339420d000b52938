"""nerfplex: train neural fields side by side, with the S3IM multiplex loss."""

__version__ = "0.1.0"
