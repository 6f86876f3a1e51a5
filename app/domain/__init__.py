"""Pure rules of the charging domain: standard library only."""
