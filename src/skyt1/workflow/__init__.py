"""Around the stages: the rule scripts' glue, login-node rules, hub pins, the effective recipe, the cost ledger, the smoke run's stand-in server."""
