"""Apollo.io sensors."""
