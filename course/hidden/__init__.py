"""Hidden grading cases (instructor only; left out of the student edition)."""
