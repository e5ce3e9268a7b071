"""Base models, fine-tuned adapters and generation behind one small engine interface."""
