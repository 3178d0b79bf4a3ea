"""The modelling rules, each written once, as functions over arrays of entities.

Every executor calls these and nothing else decides anything about an entity:

- :mod:`.randomness`  every draw is a pure function of (stream key, entity id, counter);
- :mod:`.variates`    distributions of durations and counts, from those uniforms;
- :mod:`.conditions`  ``{attribute: values}`` conditions as masks over attribute arrays;
- :mod:`.attributes`  the attribute codes of new entities (fixed, inherited, drawn);
- :mod:`.durations`   service and delay times of a stage visit;
- :mod:`.decisions`   a stage's ``decide``: attributes set with conditional probabilities;
- :mod:`.routes`      a stage's ``next``: the place an entity goes after a visit;
- :mod:`.spawns`      linked entities created after a visit, their ids, delays and attributes;
- :mod:`.priorities`  the priority class of a visit at a pool;
- :mod:`.marks`       the first time an entity reached each point a deadline measures.

A single entity is an array of one. Because a draw depends only on who draws and for which
visit, never on how many draws came before, the same config and seed give the same numbers
whatever the executor or the order of events, and variants that differ in staffing see the
same durations, decisions and routes (common random numbers).
"""
