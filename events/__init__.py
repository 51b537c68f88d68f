"""The pure domain: events, pipeline state, the fold (`evolve`), `decide`, and the Avro codec.

Nothing here does I/O or imports a Kafka library (a unit test enforces it).
"""
