"""Helpers shared by the test suites: fakes for unit tests, an HTTP client for the app."""
