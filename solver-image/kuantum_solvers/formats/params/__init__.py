"""Parameter checks of targets beyond the catalog's types (`targets.validate_params` calls them)."""
