"""Backends: where tickets go. One small protocol (base.Backend), one contract suite."""
