"""Apollo.io triggers."""
