"""Running chinwag: readiness, metrics, `chinwag doctor` and retention."""
