"""Loss functions shared across methods (SSIM, the S3IM multiplex loss)."""
