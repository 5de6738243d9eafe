"""Speech engines behind one contract (base.py). Heavy engine imports stay inside each engine."""
