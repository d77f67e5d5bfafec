"""The public map page: heatmap tiles over municipal outlines."""
