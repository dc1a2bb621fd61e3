"""Delivering: the send loop, the campaign (dry run, test, live), schedules and cron dispatch."""
