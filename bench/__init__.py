"""Benchmarks of loyalty_crm at scale (run by ``make bench``; not part of the tests)."""
