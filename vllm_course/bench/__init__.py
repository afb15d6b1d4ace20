"""`make bench`: figures measured side by side in one run, reported as ratios.
A top-level command like cli.py: it may import any subpackage."""
