"""Workshop: the shared training queue, the room (participants, host rules, the class board), server warm-up."""
