"""Apollo.io operators."""
