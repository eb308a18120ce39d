"""The local upstream server: F1 archive, Jolpica, OpenF1, schedule and live feed over recorded data."""
