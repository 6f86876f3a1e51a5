"""Query root fields, one module per area."""
