"""Apollo.io transfers."""
