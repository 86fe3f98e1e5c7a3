"""Level-based reconcilers: each looks at what is (store, storage, children) and moves one object on."""
