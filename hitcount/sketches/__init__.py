"""sketches."""
