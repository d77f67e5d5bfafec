"""Photos attached to reports: decoded, stripped of metadata, stored locally or in S3."""
