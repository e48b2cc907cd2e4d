"""Development tools of the repository (not part of the plugin package): `make bench`."""
