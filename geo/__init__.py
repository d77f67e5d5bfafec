"""Geographic helpers: boundaries, point locations and synthetic sample data."""
