"""Serving at scale: the hot path, versioned tiles, several processes, replicas."""
