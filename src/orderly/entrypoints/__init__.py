"""Deployables: api, worker, relay, cli. Each takes the list of modules to run."""
