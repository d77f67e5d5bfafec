"""OGC API – Features (Part 1 Core, GeoJSON) over the public, privacy-safe layers."""
