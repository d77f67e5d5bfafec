"""Open data: the DCAT-AP catalogue and its downloads (docs/opendata.md)."""
