"""Generated from tests/install/cri/api.proto by tests/install/cri/generate.py: do not edit."""
