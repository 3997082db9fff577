"""Course metrics as local ``evaluate`` scripts, loaded by path: ``sftlib.evaluate.load_metric``."""
