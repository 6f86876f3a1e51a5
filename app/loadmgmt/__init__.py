"""Load management: the scheduler task that shares site capacity between charging sessions."""
