"""HTTP API serving the cabinet's ISU screens."""
