"""The job queue: one subprocess per job, started from the web app."""
