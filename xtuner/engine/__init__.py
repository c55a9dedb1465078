"""Training engine parts plugged into mmengine: hooks and loops."""
