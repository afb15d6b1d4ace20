"""What the course is: course.yaml and its loader, the layout paths, the
version pins, the grading limits and the offline models' recipes, all as data.

The bottom layer: it imports nothing else of the kit."""
