"""Label Studio integration (launcher, configs, task push, annotation pull): not built yet."""
