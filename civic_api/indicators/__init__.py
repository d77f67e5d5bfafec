"""Impact indicators per municipality and period, and the quarterly M&E report."""
