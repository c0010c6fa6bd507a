"""Layer 0, the base: errors, argument types and their checks, report formatting, stack frames."""
