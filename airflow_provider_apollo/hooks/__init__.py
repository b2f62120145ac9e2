"""Apollo.io hooks."""
