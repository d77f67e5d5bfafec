"""Open311 GeoReport v2 (docs/open311.md)."""
