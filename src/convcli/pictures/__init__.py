"""Pictures for learners: animations, an interactive page, contact sheets, kernel heat maps."""
