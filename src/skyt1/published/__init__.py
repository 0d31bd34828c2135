"""What the Sky-T1 authors published: the recipe's texts (read from pinned artifacts) and the numbers they report."""
