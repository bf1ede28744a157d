"""Collectors: one file per cloud behind `base.Collector`."""
