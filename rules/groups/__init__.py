"""Group governance: the registry (备案) of who owns and answers for each group."""
