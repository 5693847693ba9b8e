"""Shared builders and drivers for the test suites (imported as `support.*`)."""
