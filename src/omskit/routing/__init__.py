"""The routing engine: candidates priced as arrays, the exact optimiser, settings, decisions."""
