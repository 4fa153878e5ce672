"""Queries: text → a tree (``parse``) → weighted terms (``plan``); the index's vocabulary (``vocabulary``)."""
