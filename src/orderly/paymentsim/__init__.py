"""A simulated payment provider: a small standalone HTTP service.

It is not an Orderly module and imports none of them: it stands in for a third
party (think of a card processor's API) so that Orderly's payment adapter can
be exercised against real HTTP, real timeouts and real failures. Its state is
kept in memory and is lost when it stops.
"""
