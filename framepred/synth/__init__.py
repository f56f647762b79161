"""Synthesizers: everything that makes a missing frame from the frames around it, behind one interface."""
