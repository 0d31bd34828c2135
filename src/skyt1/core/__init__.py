"""Leaf utilities every layer may use: errors, atomic file writes, the record schema, the response format, the name registry."""
