"""The command line: `python -m tfjoint check|compare|graph|fit`, and the bundled examples it runs on."""
