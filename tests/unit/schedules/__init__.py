"""Schedules: parsing, cron semantics, DST, intervals, words."""
