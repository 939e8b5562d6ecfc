"""Infrastructure every module shares: settings, database, outbox and inbox,
messaging, HTTP edge, logging. Modules depend on the platform, never the reverse."""
