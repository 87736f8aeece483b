"""Generated from proto/stn.proto by proto/generate_stn.py: do not edit."""
