"""Label Studio integration: server launcher, labeling configs from the task table, task push
with renderings, reference data and pre-annotations, annotation pull into the store, agreement
and the uncertainty queue (docs/labeling.md)."""
