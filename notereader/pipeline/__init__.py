"""The reading pipeline: segmentation, assertion context, rubric and goal matching."""
