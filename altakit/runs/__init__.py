"""Runs: the one run-record model, and notebook execution shared by ``altakit run`` and the workflow."""
