"""Generated from proto/cni.proto by proto/generate.py: do not edit."""
