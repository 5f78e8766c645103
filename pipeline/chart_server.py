"""Imported by the chart workers' fork server (`charts._worker_context`): the server imports
matplotlib and draws a first figure once, and every worker forked from it starts warm."""

from pipeline import charts

charts.warm_up()
