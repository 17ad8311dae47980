"""Human pose: keypoint labels distilled from BlazePose, for a binary pose network."""
