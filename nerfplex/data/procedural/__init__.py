"""data/procedural"""
